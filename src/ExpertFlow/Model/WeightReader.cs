using Toolkit.Runtime.Safetensors;
using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>
/// Where a model's weights come from: a safetensors checkpoint (<see cref="CheckpointWeights"/>) or random values made
/// in-process (<see cref="RandomWeights"/>, for benchmarks of real model shapes without the files).
/// </summary>
public interface IWeightSource : IDisposable
{
    /// <summary>For messages: the file or folder, or "random weights".</summary>
    string Description { get; }
    bool Contains(string name);
    /// <summary>Throws a clear error when the tensor is missing or has another shape.</summary>
    void Check(string name, long[] shape);
    /// <summary>The tensor on <paramref name="device"/> in <paramref name="dtype"/> (after <see cref="Check"/>).</summary>
    Tensor Load(string name, long[] shape, Device device, ScalarType dtype);
    /// <summary>
    /// Fills <paramref name="destination"/> (shape <paramref name="shape"/>, e.g. rows of a fused tensor) with the
    /// tensor, without a temporary of its size on the destination's device.
    /// </summary>
    void LoadInto(string name, long[] shape, Tensor destination);
    /// <summary>The memory-mapped checkpoint behind this source, when there is one (zero-copy host reads).</summary>
    SafetensorsCheckpoint? Checkpoint { get; }
}

/// <summary>Weights read from a safetensors checkpoint (single file or sharded folder).</summary>
public sealed class CheckpointWeights(SafetensorsCheckpoint checkpoint) : IWeightSource
{
    public SafetensorsCheckpoint? Checkpoint => checkpoint;
    public string Description => checkpoint.IndexPath ?? (checkpoint.Shards.Count == 1 ? checkpoint.Shards[0].FilePath : checkpoint.Source);
    public bool Contains(string name) => checkpoint.Contains(name);

    public void Check(string name, long[] shape)
    {
        if (!checkpoint.Contains(name))
            throw new InvalidDataException(
                $"The checkpoint '{Description}' has no tensor '{name}', which the model described by config.json needs " +
                $"(it holds {checkpoint.Names.Count} tensors, e.g. '{checkpoint.Names.FirstOrDefault()}'). Check that config.json and the safetensors files belong together.");
        var info = checkpoint.Info(name);
        if (!info.Shape.SequenceEqual(shape))
            throw new InvalidDataException(
                $"Tensor '{name}' in '{info.FilePath}' has shape {info.ShapeText}, but config.json implies [{string.Join(", ", shape)}]. " +
                "Check that config.json and the safetensors files belong together.");
    }

    public Tensor Load(string name, long[] shape, Device device, ScalarType dtype)
    {
        Check(name, shape);
        return checkpoint.Load(name, device, dtype);
    }

    public void LoadInto(string name, long[] shape, Tensor destination)
    {
        Check(name, shape);
        checkpoint.LoadInto(name, destination); // host copy of the stored bytes, then one copy into the destination
    }

    public void Dispose() => checkpoint.Dispose();
}

/// <summary>
/// Random weights of any requested shape, made on the target device (normal, std 0.02 as transformers' init; norm
/// weights 1). Deterministic for a seed and load order (the global generators are seeded at the first load: a
/// TorchSharp Generator object is a CPU generator, which CUDA sampling rejects). Biases are absent
/// (<see cref="Contains"/> is false for them).
/// </summary>
public sealed class RandomWeights(long seed = 0) : IWeightSource
{
    bool seeded;

    public SafetensorsCheckpoint? Checkpoint => null;
    public string Description => "random weights";
    public bool Contains(string name) => !name.EndsWith(".bias", StringComparison.Ordinal);
    public void Check(string name, long[] shape) { }

    public Tensor Load(string name, long[] shape, Device device, ScalarType dtype)
    {
        var t = empty(shape, dtype, device);
        LoadInto(name, shape, t);
        return t;
    }

    public void LoadInto(string name, long[] shape, Tensor destination)
    {
        using var noGrad = no_grad();
        if (name.Contains("norm", StringComparison.Ordinal)) { destination.fill_(1); return; }
        if (!seeded)
        {
            manual_seed(seed); // seeds the CPU and every CUDA generator
            seeded = true;
        }
        destination.normal_(0.0, 0.02);
    }

    public void Dispose() { }
}

/// <summary>
/// A named model weight: declared on the meta device with the shape config.json implies, then materialised from
/// the weight source on the compute device in the compute dtype. A weight in a fused group shares one tensor
/// (<see cref="Value"/>) with the other members: their concatenation along dim 0.
/// </summary>
internal sealed class Param
{
    public string Name { get; }
    public long[] Shape { get; }
    public Tensor Value { get; set; }
    /// <summary>The fused group this weight belongs to (declaration order), or null.</summary>
    public Param[]? Group { get; set; }

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

    /// <summary>Declares a weight only if the source has it (optional biases).</summary>
    public Param? Optional(IWeightSource source, string name, params long[] shape) =>
        source.Contains(name) ? Declare(name, shape) : null;

    /// <summary>
    /// Stores these weights as one tensor, their concatenation along dim 0 (one matmul instead of several). The fused
    /// tensor is allocated once and each piece is loaded straight into its rows, so loading never holds a weight twice
    /// on the device: fusing after loading left the freed pieces reserved in CUDA's caching allocator (1.7 GiB for
    /// Qwen1.5-MoE), which the memory budget does not see and TorchSharp cannot release.
    /// </summary>
    public void Fuse(params Param[] members)
    {
        if (members.Length < 2) return;
        for (int i = 1; i < members.Length; i++)
            if (all.IndexOf(members[i]) < all.IndexOf(members[i - 1]))
                throw new InvalidOperationException($"Fuse {members[i - 1].Name} and {members[i].Name} in declaration order (the first member allocates the fused tensor).");
        foreach (var m in members)
        {
            if (m.Group != null) throw new InvalidOperationException($"{m.Name} is already in a fused group.");
            if (!m.Shape.AsSpan(1).SequenceEqual(members[0].Shape.AsSpan(1)))
                throw new InvalidOperationException($"Cannot fuse {m.Name} [{string.Join(", ", m.Shape)}] with {members[0].Name} [{string.Join(", ", members[0].Shape)}]: trailing dimensions differ.");
            m.Group = members;
        }
    }

    /// <summary>Checks every shape first (so that a bad file fails before any allocation), then loads in declaration order.</summary>
    public void Materialise(IWeightSource source, Device device, ScalarType dtype)
    {
        foreach (var p in all) source.Check(p.Name, p.Shape);
        foreach (var p in all)
        {
            var old = p.Value;
            if (p.Group is not { } group)
                p.Value = source.Load(p.Name, p.Shape, device, dtype).DetachFromDisposeScope();
            else
            {
                // The first member allocates the fused tensor; later members (declared after it) find it there.
                var fused = p == group[0]
                    ? empty([group.Sum(m => m.Shape[0]), .. p.Shape.Skip(1)], dtype, device).DetachFromDisposeScope()
                    : group[0].Value;
                long row = group.TakeWhile(m => m != p).Sum(m => m.Shape[0]);
                // Dispose the view too: an undisposed view keeps the fused storage alive after the model is disposed.
                using (var rows = fused.narrow(0, row, p.Shape[0]))
                    source.LoadInto(p.Name, p.Shape, rows);
                p.Value = fused;
            }
            old.Dispose();
        }
    }

    public long Bytes => all.Select(p => p.Value).Distinct().Sum(v => v.NumberOfElements * v.ElementSize);
}
