using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>
/// Packs weight matrices into a <see cref="PackedMatrix"/> layout on the host (load time). The rules, per row:
/// <list type="bullet">
/// <item>int8: scale = max|w| / 127 (fp32), q = round(w / scale) clamped to ±127: |w - q·scale| ≤ scale/2.</item>
/// <item>int4, per group of columns, over the range [min(w, 0), max(w, 0)] (zero is always representable): scale = the
/// smallest fp16 at or above (max - min) / 15 (so the range always fits),
/// zero = round(-min / scale) clamped to 0..15, q = round(w / scale) + zero clamped to 0..15: |w - (q - zero)·scale| ≤ scale/2.</item>
/// </list>
/// Rounding is to nearest, ties to even. Rows are packed in parallel for large matrices.
/// </summary>
public static class ExpertQuantizer
{
    /// <summary>Packs row-major <paramref name="weights"/> (Rows*Cols values) into <paramref name="destination"/> (<see cref="PackedMatrix.Bytes"/>).</summary>
    public static void Pack(ReadOnlySpan<float> weights, PackedMatrix m, Span<byte> destination)
    {
        if (weights.Length != m.Rows * m.Cols) throw new ArgumentException($"a [{m.Rows}, {m.Cols}] matrix has {m.Rows * m.Cols} values, not {weights.Length}");
        if (destination.Length != m.Bytes) throw new ArgumentException($"a packed {m.Format.Name} [{m.Rows}, {m.Cols}] matrix takes {m.Bytes} bytes, not {destination.Length}");
        destination.Clear();
        unsafe
        {
            fixed (float* w = weights)
            fixed (byte* d = destination)
            {
                float* wp = w;
                byte* dp = d;
                int rows = checked((int)m.Rows);
                var options = new ParallelOptions { MaxDegreeOfParallelism = m.Rows * m.Cols >= 1 << 20 ? Environment.ProcessorCount : 1 };
                if (m.Format.Kind == ExpertDType.Int8) Parallel.For(0, rows, options, r => PackInt8Row(wp, dp, m, r));
                else Parallel.For(0, rows, options, r => PackInt4Row(wp, dp, m, r));
            }
        }
    }

    static unsafe void PackInt8Row(float* w, byte* d, PackedMatrix m, int r)
    {
        long cols = m.Cols;
        var row = new ReadOnlySpan<float>(w + r * cols, (int)cols);
        float amax = 0;
        foreach (float v in row) amax = MathF.Max(amax, MathF.Abs(v));
        float scale = amax / 127f;
        var q = new Span<sbyte>(d + r * cols, (int)cols);
        if (scale > 0)
            for (int c = 0; c < row.Length; c++) q[c] = (sbyte)Math.Clamp(MathF.Round(row[c] / scale, MidpointRounding.ToEven), -127f, 127f);
        ((float*)(d + m.ScaleOffset))[r] = scale;
    }

    static unsafe void PackInt4Row(float* w, byte* d, PackedMatrix m, int r)
    {
        long cols = m.Cols;
        int g = m.Format.GroupSize;
        long gpr = m.GroupsPerRow;
        var scales = (Half*)(d + m.ScaleOffset);
        byte* zeros = d + m.ZeroOffset;
        byte* values = d + r * cols / 2;
        for (long grp = 0; grp < gpr; grp++)
        {
            var block = new ReadOnlySpan<float>(w + r * cols + grp * g, g);
            float min = 0, max = 0;
            foreach (float v in block) { min = MathF.Min(min, v); max = MathF.Max(max, v); }
            Half s16 = ScaleAtLeast((max - min) / 15f);
            float scale = (float)s16;
            int zero = (int)Math.Clamp(MathF.Round(-min / scale, MidpointRounding.ToEven), 0f, 15f);
            scales[r * gpr + grp] = s16;
            zeros[r * gpr + grp] = (byte)zero;
            for (int c = 0; c < g; c++)
            {
                int q = (int)Math.Clamp(MathF.Round(block[c] / scale, MidpointRounding.ToEven) + zero, 0f, 15f);
                long col = grp * g + c;
                values[col / 2] |= (byte)(col % 2 == 0 ? q : q << 4);
            }
        }
    }

    /// <summary>The smallest positive fp16 at or above <paramref name="x"/> (the smallest subnormal for 0).</summary>
    internal static Half ScaleAtLeast(float x)
    {
        if (!(x > 0)) return Half.Epsilon;
        var h = (Half)x;
        if ((float)h < x) h = Half.BitIncrement(h);
        if (Half.IsInfinity(h)) throw new ArgumentException($"a weight range of {x * 15} does not fit an fp16 int4 scale");
        return h;
    }

    /// <summary>Row-major fp32 values of a host tensor (any floating dtype; converted exactly from bf16/fp16).</summary>
    public static float[] ToFloats(Tensor t)
    {
        using var scope = NewDisposeScope();
        var f = t.to(ScalarType.Float32, CPU).contiguous();
        return f.data<float>().ToArray();
    }

    /// <summary>Fp32 values of <paramref name="bytes"/> holding elements of <paramref name="dtype"/> (bf16, fp16 or fp32), exact.</summary>
    public static void ToFloats(ReadOnlySpan<byte> bytes, ScalarType dtype, Span<float> destination)
    {
        switch (dtype)
        {
            case ScalarType.Float32: MemoryMarshal.Cast<byte, float>(bytes).CopyTo(destination); break;
            case ScalarType.BFloat16:
                var bf = MemoryMarshal.Cast<byte, ushort>(bytes);
                for (int i = 0; i < bf.Length; i++) destination[i] = BitConverter.UInt32BitsToSingle((uint)bf[i] << 16);
                break;
            case ScalarType.Float16:
                var h = MemoryMarshal.Cast<byte, Half>(bytes);
                for (int i = 0; i < h.Length; i++) destination[i] = (float)h[i];
                break;
            default: throw new ArgumentException($"experts in {dtype} cannot be quantized; use fp32, fp16 or bf16");
        }
    }
}
