using TorchSharp;
using Toolkit.Runtime;
using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>
/// The bytes of one quantized [Rows, Cols] weight matrix, in sections that each start at a multiple of 16 bytes:
/// <list type="bullet">
/// <item>int8: the values (int8, row-major, Rows*Cols bytes), then one fp32 scale per row; w = q * scale.</item>
/// <item>int4: the values two per byte (row-major; column 2j in the low nibble, 2j+1 in the high one), then an fp16 scale
/// per (row, group of <see cref="ExpertFormat.GroupSize"/> columns), then a uint8 zero point (0..15) per (row, group);
/// w = (q - zero) * scale.</item>
/// </list>
/// Dequantizing is a handful of tensor ops on the compute device (no host sync, so CUDA graphs capture it); products are
/// formed in fp32 and rounded to the compute dtype once.
/// </summary>
public sealed record PackedMatrix
{
    public PackedMatrix(ExpertFormat format, long rows, long cols)
    {
        if (!format.IsQuantized) throw new ArgumentException("an unquantized expert has no packed layout");
        if (rows <= 0 || cols <= 0) throw new ArgumentException($"a packed matrix needs positive sizes, not [{rows}, {cols}]");
        Format = format;
        Rows = rows;
        Cols = cols;
        if (format.Kind == ExpertDType.Int8)
        {
            ValueBytes = rows * cols;
            ScaleOffset = Align(ValueBytes);
            ZeroOffset = ScaleOffset + rows * 4;
            Bytes = Align(ZeroOffset);
        }
        else
        {
            if (cols % format.GroupSize != 0)
                throw new ArgumentException($"int4 with groups of {format.GroupSize} needs a column count that is a multiple of it; a [{rows}, {cols}] expert weight has {cols} columns (pick another group size)");
            ValueBytes = rows * cols / 2;
            ScaleOffset = Align(ValueBytes);
            ZeroOffset = Align(ScaleOffset + Groups * 2);
            Bytes = Align(ZeroOffset + Groups);
        }
    }

    public ExpertFormat Format { get; }
    public long Rows { get; }
    public long Cols { get; }
    /// <summary>Groups per row (int4), or 1 (int8: a scale per row).</summary>
    public long GroupsPerRow => Format.Kind == ExpertDType.Int4 ? Cols / Format.GroupSize : 1;
    /// <summary>Scales in the matrix (rows x groups per row).</summary>
    public long Groups => Rows * GroupsPerRow;
    public long ValueBytes { get; }
    public long ScaleOffset { get; }
    /// <summary>Where the int4 zero points start (int8: the end of the scales).</summary>
    public long ZeroOffset { get; }
    /// <summary>All bytes of the matrix, a multiple of 16.</summary>
    public long Bytes { get; }

    internal static long Align(long bytes) => (bytes + 15) / 16 * 16;

    /// <summary>
    /// Dequantizes <paramref name="packed"/> (uint8 [..., <see cref="Bytes"/>], last dimension contiguous, batch strides
    /// and offset multiples of 16) into <paramref name="into"/> ([..., Rows, Cols] contiguous, floating point) and returns it.
    /// </summary>
    public Tensor DequantizeInto(Tensor packed, Tensor into)
    {
        if (packed.dtype != ScalarType.Byte || packed.shape[^1] != Bytes)
            throw new ArgumentException($"a packed {Format.Name} [{Rows}, {Cols}] matrix is {Bytes} uint8 values, not {packed.dtype} [{string.Join(", ", packed.shape)}]");
        long[] batch = packed.shape[..^1];
        using var scope = NewDisposeScope();
        var values = packed.narrow(-1, 0, ValueBytes);
        if (Format.Kind == ExpertDType.Int8)
        {
            var q = LibTorchOps.ViewAs(values, ScalarType.Int8).view([.. batch, Rows, Cols]);
            var scale = LibTorchOps.ViewAs(packed.narrow(-1, ScaleOffset, Rows * 4), ScalarType.Float32).view([.. batch, Rows, 1]);
            into.copy_(q);   // |q| <= 127: exact in any floating dtype
            into.mul_(scale); // fp32 product, rounded once to the compute dtype
            return into;
        }
        long g = Format.GroupSize, gpr = GroupsPerRow;
        var bytes = values.view([.. batch, Rows, Cols / 2]);
        var pairs = into.view([.. batch, Rows, Cols / 2, 2]);
        using (var sixteen = (Scalar)16)
        {
            pairs.select(-1, 0).copy_(bytes.remainder(sixteen));
            pairs.select(-1, 1).copy_(bytes.div(sixteen, RoundingMode.floor));
        }
        var scales = LibTorchOps.ViewAs(packed.narrow(-1, ScaleOffset, Groups * 2), ScalarType.Float16).view([.. batch, Rows, gpr, 1]);
        var zeros = packed.narrow(-1, ZeroOffset, Groups).view([.. batch, Rows, gpr, 1]);
        var grouped = into.view([.. batch, Rows, gpr, g]);
        grouped.sub_(zeros);   // integers in -15..15: exact
        grouped.mul_(scales);  // fp32 product (fp16 scale), rounded once
        return into;
    }

    /// <summary>Dequantizes into a new [..., Rows, Cols] tensor of <paramref name="dtype"/>.</summary>
    public Tensor Dequantize(Tensor packed, ScalarType dtype) =>
        DequantizeInto(packed, empty([.. packed.shape[..^1], Rows, Cols], dtype, packed.device));
}
