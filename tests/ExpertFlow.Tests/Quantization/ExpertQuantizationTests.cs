using ExpertFlow.Model;
using ExpertFlow.Offloading;
using ExpertFlow.Tests.Model;
using static TorchSharp.torch;

namespace ExpertFlow.Tests.Quantization;

/// <summary>
/// The int8 and int4 expert formats against a scalar reference written here from the formats' definitions (double
/// arithmetic, a different loop structure), and against the closed-form error bounds: int8 |w - ŵ| ≤ scale/2 with
/// scale = max|w|/127 per row; int4 |w - ŵ| ≤ scale/2 with scale the fp16 at or above (max-min)/15 per group.
/// </summary>
public class ExpertQuantizationTests
{
    static float[] RandomMatrix(int rows, int cols, int seed)
    {
        var rng = new Random(seed);
        var w = new float[rows * cols];
        for (int i = 0; i < w.Length; i++) w[i] = (float)((rng.NextDouble() * 2 - 1) * 0.05 * (1 + i / cols % 7));
        // edge rows: zeros, a constant, only negatives, tiny values, one outlier
        for (int c = 0; c < cols; c++)
        {
            w[0 * cols + c] = 0;
            w[1 * cols + c] = 0.0123f;
            w[2 * cols + c] = -(float)rng.NextDouble() * 0.01f - 0.001f;
            w[3 * cols + c] = (float)(rng.NextDouble() - 0.5) * 1e-6f;
        }
        w[4 * cols + 5] = 3.5f;
        return w;
    }

    /// <summary>Reference dequantized values of the int8 rule.</summary>
    static double[] ReferenceInt8(float[] w, int rows, int cols, out double[] bound)
    {
        var result = new double[w.Length];
        bound = new double[w.Length];
        for (int r = 0; r < rows; r++)
        {
            double amax = 0;
            for (int c = 0; c < cols; c++) amax = Math.Max(amax, Math.Abs((double)w[r * cols + c]));
            float scale = (float)(amax / 127); // stored in fp32
            for (int c = 0; c < cols; c++)
            {
                double q = scale == 0 ? 0 : Math.Clamp(Math.Round((float)(w[r * cols + c] / (double)scale), MidpointRounding.ToEven), -127, 127);
                result[r * cols + c] = q * scale;
                bound[r * cols + c] = scale / 2.0 * (1 + 1e-6) + 1e-12;
            }
        }
        return result;
    }

    /// <summary>Reference dequantized values of the int4 rule.</summary>
    static double[] ReferenceInt4(float[] w, int rows, int cols, int group, out double[] bound)
    {
        var result = new double[w.Length];
        bound = new double[w.Length];
        for (int r = 0; r < rows; r++)
            for (int g0 = 0; g0 < cols; g0 += group)
            {
                double min = 0, max = 0; // the range always includes zero
                for (int c = g0; c < g0 + group; c++) { min = Math.Min(min, w[r * cols + c]); max = Math.Max(max, w[r * cols + c]); }
                double wanted = (float)(max - min) / 15f;
                // the smallest fp16 >= wanted, found by walking the fp16 values (not by bit tricks)
                Half s = (Half)wanted;
                while ((double)s < wanted) s = Half.BitIncrement(s);
                if (wanted == 0) s = Half.Epsilon;
                double scale = (double)s;
                double zero = Math.Clamp(Math.Round((float)(-min / scale), MidpointRounding.ToEven), 0, 15);
                for (int c = g0; c < g0 + group; c++)
                {
                    double q = Math.Clamp(Math.Round((float)(w[r * cols + c] / scale), MidpointRounding.ToEven) + zero, 0, 15);
                    result[r * cols + c] = (q - zero) * scale;
                    bound[r * cols + c] = scale / 2.0 * (1 + 1e-6) + 1e-12;
                }
            }
        return result;
    }

    static float[] Dequantize(float[] w, PackedMatrix m, ScalarType dtype = ScalarType.Float32)
    {
        var bytes = new byte[m.Bytes];
        ExpertQuantizer.Pack(w, m, bytes);
        using var scope = NewDisposeScope();
        using var packed = tensor(bytes, ScalarType.Byte);
        return m.Dequantize(packed, dtype).to(ScalarType.Float32).data<float>().ToArray();
    }

    [Theory]
    [InlineData("int8", 64)]
    [InlineData("int4", 32)]
    [InlineData("int4", 64)]
    [InlineData("int4", 128)]
    public void Round_trip_matches_the_scalar_reference_within_the_closed_form_bound(string kind, int group)
    {
        int rows = 24, cols = 256;
        var w = RandomMatrix(rows, cols, 7 + group);
        var m = ExpertFormat.Parse(kind, group).Matrix(rows, cols);
        var got = Dequantize(w, m);
        double[] bound;
        var reference = kind == "int8" ? ReferenceInt8(w, rows, cols, out bound) : ReferenceInt4(w, rows, cols, group, out bound);
        for (int i = 0; i < w.Length; i++)
        {
            Assert.True(Math.Abs(w[i] - reference[i]) <= bound[i], $"reference beyond the bound at {i}: {w[i]} vs {reference[i]}");
            Assert.True(Math.Abs(w[i] - got[i]) <= bound[i] * (1 + 1e-6) + 1e-9, $"{kind}-g{group}: element {i} ({i / cols},{i % cols}) {w[i]} -> {got[i]}, bound {bound[i]}");
            // the same code as the reference: equal up to the fp32 rounding of the product
            Assert.True(Math.Abs(got[i] - reference[i]) <= Math.Abs(reference[i]) * 1e-6 + 1e-12, $"{kind}-g{group}: element {i} is {got[i]}, the reference {reference[i]}");
        }
        // the zero row stays zero, the constant row is exact to fp16 (int4) or fp32 (int8) scale precision
        for (int c = 0; c < cols; c++) Assert.Equal(0f, got[c]);
    }

    [Theory]
    [InlineData("int8")]
    [InlineData("int4")]
    public void Bf16_dequantization_is_the_fp32_value_rounded_once(string kind)
    {
        int rows = 16, cols = 128;
        var w = RandomMatrix(rows, cols, 3);
        var m = ExpertFormat.Parse(kind, 32).Matrix(rows, cols);
        var f32 = Dequantize(w, m);
        var bf = Dequantize(w, m, ScalarType.BFloat16);
        using var rounded = tensor(f32).to(ScalarType.BFloat16).to(ScalarType.Float32);
        Assert.Equal(rounded.data<float>().ToArray(), bf);
    }

    [Fact]
    public void Packed_bytes_are_half_and_about_a_quarter_of_bf16()
    {
        // the Qwen1.5-MoE-A2.7B expert: [2*1408, 2048] in, [2048, 1408] out
        long[] input = [2816, 2048], output = [2048, 1408];
        long bf16 = (input[0] * input[1] + output[0] * output[1]) * 2;
        var int8 = PackedExpertLayout.For(ExpertFormat.Parse("int8"), input, output);
        Assert.Equal(Align(2816L * 2048) + Align(2816L * 4) + Align(2048L * 1408) + Align(2048L * 4), int8.Bytes);
        Assert.InRange((double)int8.Bytes / bf16, 0.5, 0.5 + 0.002);
        foreach (int g in ExpertFormat.GroupSizes)
        {
            var int4 = PackedExpertLayout.For(ExpertFormat.Parse("int4", g), input, output);
            long Matrix(long r, long c) => Align(Align(Align(r * c / 2) + r * c / g * 2) + r * c / g); // values, fp16 scales, zeros
            Assert.Equal(Matrix(2816, 2048) + Matrix(2048, 1408), int4.Bytes);
            // a quarter, plus 3 bytes (fp16 scale, uint8 zero) per group of g values
            Assert.InRange((double)int4.Bytes / bf16, 0.25, 0.25 + 1.5 / g + 0.001);
        }
    }

    [Fact]
    public void A_budget_holds_two_and_nearly_four_times_the_experts()
    {
        long[] input = [2816, 2048], output = [2048, 1408];
        int[] layers = [.. Enumerable.Range(0, 24)];
        ExpertLayout Layout(string kind) => kind == "bf16"
            ? new ExpertLayout(layers, 60, [new ExpertPart("gate", [1408, 2048]), new ExpertPart("up", [1408, 2048]), new ExpertPart("down", [2048, 1408])], ScalarType.BFloat16)
            : QuantizingExpertSource.LayoutOf(layers, 60, PackedExpertLayout.For(ExpertFormat.Parse(kind, 128), input, output));
        var footprint = new DeviceFootprint(3L << 30, 0, 0);
        long budget = 4L << 30;
        int Slots(string kind) => MemoryPlan.Create(budget, footprint, Layout(kind)).Slots;
        Assert.True(Slots("int8") >= 2 * Slots("bf16") - 1, $"int8 {Slots("int8")} slots, bf16 {Slots("bf16")}");
        Assert.True(Slots("int4") >= 3.5 * Slots("bf16"), $"int4 {Slots("int4")} slots, bf16 {Slots("bf16")}");
    }

    [Fact]
    public void Bad_formats_are_clear_errors()
    {
        Assert.Contains("bf16, int8 or int4", Assert.Throws<ArgumentException>(() => ExpertFormat.Parse("fp8")).Message);
        Assert.Contains("32, 64 or 128", Assert.Throws<ArgumentException>(() => ExpertFormat.Parse("int4", 48)).Message);
        Assert.Contains("multiple", Assert.Throws<ArgumentException>(() => ExpertFormat.Parse("int4", 64).Matrix(4, 96)).Message);
    }

    static long Align(long b) => (b + 15) / 16 * 16;
}
