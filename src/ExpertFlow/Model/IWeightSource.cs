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
    /// The weight a stored checkpoint tensor makes and its element count, where they differ from the stored tensor's: a
    /// pre-quantized checkpoint's NAME.qweight makes NAME.weight; its qzeros, scales and g_idx make nothing more ("", 0).
    /// Null: the tensor is a weight as stored.
    /// </summary>
    (string Name, long Elements)? Logical(string storedName) => null;
    /// <summary>The memory-mapped checkpoint behind this source, when there is one (zero-copy host reads).</summary>
    SafetensorsCheckpoint? Checkpoint { get; }
}
