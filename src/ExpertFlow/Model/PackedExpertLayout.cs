using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>
/// One quantized expert as a block of bytes: the packed input matrix (gate rows then up rows, [2I, H]; Switch: wi)
/// followed by the packed output matrix ([H, I]). A multiple of 16 bytes, so experts and slots stacked back to back keep
/// every section aligned.
/// </summary>
public sealed record PackedExpertLayout(ExpertFormat Format, PackedMatrix Input, PackedMatrix Output)
{
    public static PackedExpertLayout For(ExpertFormat format, long[] inputShape, long[] outputShape) =>
        new(format, format.Matrix(inputShape[0], inputShape[1]), format.Matrix(outputShape[0], outputShape[1]));

    public long Bytes => Input.Bytes + Output.Bytes;

    /// <summary>Packs an expert's fp32 input and output weights (row-major) into <paramref name="destination"/> (<see cref="Bytes"/>).</summary>
    public void Pack(ReadOnlySpan<float> input, ReadOnlySpan<float> output, Span<byte> destination)
    {
        ExpertQuantizer.Pack(input, Input, destination[..(int)Input.Bytes]);
        ExpertQuantizer.Pack(output, Output, destination.Slice((int)Input.Bytes, (int)Output.Bytes));
    }

    /// <summary>Dequantizes uint8 [..., <see cref="Bytes"/>] experts into new [..., 2I, H] and [..., H, I] tensors of <paramref name="dtype"/>.</summary>
    public (Tensor Input, Tensor Output) Dequantize(Tensor packed, ScalarType dtype) =>
        (Input.Dequantize(packed.narrow(-1, 0, Input.Bytes), dtype), Output.Dequantize(packed.narrow(-1, Input.Bytes, Output.Bytes), dtype));

    /// <summary>Dequantizes one expert (uint8 [<see cref="Bytes"/>]) into <paramref name="scratch"/>'s tensors and returns them.</summary>
    public ExpertWeights DequantizeInto(Tensor packed, ExpertWeights scratch)
    {
        Input.DequantizeInto(packed.narrow(-1, 0, Input.Bytes), scratch.Input);
        Output.DequantizeInto(packed.narrow(-1, Input.Bytes, Output.Bytes), scratch.Output);
        return scratch;
    }
}
