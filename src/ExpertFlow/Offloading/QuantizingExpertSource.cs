using System.Buffers;
using ExpertFlow.Model;

namespace ExpertFlow.Offloading;

/// <summary>
/// Experts packed in a quantized format (<see cref="PackedExpertLayout"/>) as they are read from an unquantized source
/// (the checkpoint or random experts, in the compute dtype): the host tier then holds, and the link copies, the packed
/// bytes. The layout has two byte parts, the packed input matrix and the packed output matrix.
/// </summary>
public sealed class QuantizingExpertSource : IExpertSource
{
    readonly IExpertSource unquantized;
    readonly PackedExpertLayout packed;

    /// <param name="unquantized">Experts in the compute dtype (input parts, then the output part).</param>
    /// <param name="packed">The packed layout of one expert.</param>
    public QuantizingExpertSource(IExpertSource unquantized, PackedExpertLayout packed)
    {
        this.unquantized = unquantized;
        this.packed = packed;
        var u = unquantized.Layout;
        if (u.ElementsPerExpert != packed.Input.Rows * packed.Input.Cols + packed.Output.Rows * packed.Output.Cols)
            throw new ArgumentException("the packed layout does not hold the source's experts");
        Layout = LayoutOf(u.MoeLayers, u.ExpertsPerLayer, packed);
    }

    /// <summary>The host and slot layout of packed experts: two uint8 parts.</summary>
    public static ExpertLayout LayoutOf(IReadOnlyList<int> moeLayers, int expertsPerLayer, PackedExpertLayout packed) =>
        new(moeLayers, expertsPerLayer, [new ExpertPart("packed_input", [packed.Input.Bytes]), new ExpertPart("packed_output", [packed.Output.Bytes])],
            TorchSharp.torch.ScalarType.Byte);

    public ExpertLayout Layout { get; }

    public void Read(ExpertKey key, Span<byte> destination)
    {
        TensorExpertSource.CheckDestination(Layout, destination);
        var u = unquantized.Layout;
        var raw = ArrayPool<byte>.Shared.Rent(checked((int)u.BytesPerExpert));
        var values = ArrayPool<float>.Shared.Rent(checked((int)u.ElementsPerExpert));
        try
        {
            var bytes = raw.AsSpan(0, (int)u.BytesPerExpert);
            unquantized.Read(key, bytes);
            var floats = values.AsSpan(0, (int)u.ElementsPerExpert);
            ExpertQuantizer.ToFloats(bytes, u.DType, floats);
            int inputs = (int)(packed.Input.Rows * packed.Input.Cols);
            packed.Pack(floats[..inputs], floats[inputs..], destination);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(raw);
            ArrayPool<float>.Shared.Return(values);
        }
    }
}
