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
    /// <summary>
    /// True for a checkpoint tensor that stores part of an expert weight under another name (a pre-quantized checkpoint's
    /// qweight, qzeros, scales, g_idx of an expert): it is not a device-resident weight.
    /// </summary>
    bool IsExpertStorage(string name) => false;
    /// <summary>The memory-mapped checkpoint behind this source, when there is one (zero-copy host reads).</summary>
    SafetensorsCheckpoint? Checkpoint { get; }
}
