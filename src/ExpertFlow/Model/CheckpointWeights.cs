using Toolkit.Runtime.Safetensors;
using static TorchSharp.torch;

namespace ExpertFlow.Model;

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
        if (info.DType is not (SafetensorsDType.F32 or SafetensorsDType.F16 or SafetensorsDType.BF16 or SafetensorsDType.F64))
            throw new InvalidDataException(
                $"Tensor '{name}' in '{info.FilePath}' is stored as {info.DType}; model weights must be F32, F16, BF16 or F64 " +
                "(quantised and FP8 checkpoints are not supported: use the model's BF16 or FP16 release).");
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
