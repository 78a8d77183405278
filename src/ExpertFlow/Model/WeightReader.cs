using Toolkit.Runtime.Safetensors;
using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>Loads checkpoint tensors with the checks that turn a wrong file into a clear message.</summary>
internal static class WeightReader
{
    public static Tensor Load(SafetensorsCheckpoint checkpoint, string name, long[] shape, Device device, ScalarType dtype)
    {
        CheckShape(checkpoint, name, shape);
        return checkpoint.Load(name, device, dtype);
    }

    public static void CheckShape(SafetensorsCheckpoint checkpoint, string name, long[] shape)
    {
        if (!checkpoint.Contains(name))
            throw new InvalidDataException(
                $"The checkpoint '{checkpoint.IndexPath ?? checkpoint.Source}' has no tensor '{name}', which the model described by config.json needs " +
                $"(it holds {checkpoint.Names.Count} tensors, e.g. '{checkpoint.Names.FirstOrDefault()}'). Check that config.json and the safetensors files belong together.");
        var info = checkpoint.Info(name);
        if (!info.Shape.SequenceEqual(shape))
            throw new InvalidDataException(
                $"Tensor '{name}' in '{info.FilePath}' has shape {info.ShapeText}, but config.json implies [{string.Join(", ", shape)}]. " +
                "Check that config.json and the safetensors files belong together.");
    }
}

/// <summary>
/// A named model weight: declared on the meta device with the shape config.json implies, then materialised from
/// the checkpoint on the compute device in the compute dtype.
/// </summary>
internal sealed class Param
{
    public string Name { get; }
    public long[] Shape { get; }
    public Tensor Value { get; set; }

    public Param(string name, long[] shape)
    {
        Name = name;
        Shape = shape;
        Value = empty(shape, ScalarType.Float32, META);
    }

    public static readonly Device META = new(TorchSharp.DeviceType.META);
}

/// <summary>The weights a model declared, in declaration order; materialises them all at once.</summary>
internal sealed class ParamSet
{
    readonly List<Param> all = [];
    public IReadOnlyList<Param> All => all;

    public Param Declare(string name, params long[] shape)
    {
        var p = new Param(name, shape);
        all.Add(p);
        return p;
    }

    /// <summary>Declares a weight only if the checkpoint has it (optional biases).</summary>
    public Param? Optional(SafetensorsCheckpoint checkpoint, string name, params long[] shape) =>
        checkpoint.Contains(name) ? Declare(name, shape) : null;

    /// <summary>Checks every shape first (so that a bad file fails before any allocation), then loads.</summary>
    public void Materialise(SafetensorsCheckpoint checkpoint, Device device, ScalarType dtype)
    {
        foreach (var p in all) WeightReader.CheckShape(checkpoint, p.Name, p.Shape);
        foreach (var p in all)
        {
            var old = p.Value;
            p.Value = checkpoint.Load(p.Name, device, dtype);
            old.Dispose();
        }
    }

    public long Bytes => all.Sum(p => p.Value.NumberOfElements * p.Value.ElementSize);
}
