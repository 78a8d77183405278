using Kimad.Compression;

namespace Kimad.Tests;

/// <summary>fp16 and bf16 encodings against the closed-form rounding bounds of their formats.</summary>
public class HalfPrecisionTests
{
    static float[] Vector(int n, int seed, double spread)
    {
        var r = new Random(seed);
        // Magnitudes spread over 10^-spread .. 1 (log-uniform), random signs.
        return Enumerable.Range(0, n).Select(_ => (float)((r.Next(2) == 0 ? -1 : 1) * Math.Pow(10, -spread * r.NextDouble()))).ToArray();
    }

    [Theory]
    [InlineData(1e-3f)]
    [InlineData(1f)]
    [InlineData(3e5f)]      // above half's largest finite value without the scale
    [InlineData(1e-9f)]     // below half's smallest subnormal without the scale
    public void Fp16ErrorIsWithinTheFormatsBound(float magnitude)
    {
        var v = Vector(5000, 1, 12).Select(x => x * magnitude).ToArray();
        var back = new float[v.Length];
        WireCodec.Apply(new HalfCompressor(), v, back, new Random(0));
        // Independent closed form: scale 2^e with e = 14 - floor(log2 max|v|); half has 11 significant bits (unit roundoff
        // 2^-11) down to 2^-14, and a subnormal spacing of 2^-24 below (half a step: 2^-25), both in scaled units.
        double max = v.Max(x => Math.Abs((double)x));
        int e = 14 - (int)Math.Floor(Math.Log2(max));
        for (int i = 0; i < v.Length; i++)
        {
            double err = Math.Abs((double)back[i] - v[i]);
            double bound = Math.Max(Math.Pow(2, -11) * Math.Abs(v[i]), Math.Pow(2, -25) * Math.Pow(2, -e));
            Assert.True(err <= bound * (1 + 1e-6), $"element {i}: {v[i]} came back as {back[i]}, error {err:G3} above {bound:G3}");
        }
        Assert.Equal(v.Length, back.Count(float.IsFinite));
    }

    [Fact]
    public void Fp16IsExactOnRepresentableValuesAndZero()
    {
        float[] v = [0f, 1f, -2f, 0.5f, 1024f, -0.375f, 3f, 0f];   // few significant bits, within 2^11 of the maximum
        var back = new float[v.Length];
        WireCodec.Apply(new HalfCompressor(), v, back, new Random(0));
        Assert.Equal(v, back);
        var zeros = new float[9];
        WireCodec.Apply(new HalfCompressor(), zeros, back = new float[9], new Random(0));
        Assert.All(back, x => Assert.Equal(0f, x));
    }

    [Fact]
    public void Bf16RoundsToNearestEvenWithinTheFormatsBound()
    {
        var v = Vector(5000, 2, 30).Concat([float.MaxValue, -float.MaxValue, 1e-40f, 1f + MathF.Pow(2, -8), 1f + 3 * MathF.Pow(2, -8)]).ToArray();
        var back = new float[v.Length];
        WireCodec.Apply(new BFloat16Compressor(), v, back, new Random(0));
        for (int i = 0; i < v.Length; i++)
        {
            Assert.True(float.IsFinite(back[i]), $"{v[i]} became {back[i]}");
            // Reference: the two bfloat16 neighbours of v (truncation and one step up) and the nearest of them.
            uint bits = BitConverter.SingleToUInt32Bits(v[i]) & 0xFFFF0000u;
            float low = BitConverter.UInt32BitsToSingle(bits), high = BitConverter.UInt32BitsToSingle(bits + 0x10000u);
            double dl = Math.Abs((double)v[i] - low), dh = Math.Abs((double)high - v[i]);
            if (!float.IsFinite(high)) { Assert.Equal(low, back[i]); continue; }   // never rounded up to infinity
            float expected = dl < dh ? low : dh < dl ? high : ((bits >> 16) & 1) == 0 ? low : high;
            Assert.Equal(expected, back[i]);
            if (Math.Abs(v[i]) >= 1.2e-38f) Assert.True(Math.Abs((double)back[i] - v[i]) <= Math.Pow(2, -8) * Math.Abs(v[i]), $"{v[i]}");
        }
        Assert.Equal(1f, back[^2]);                          // a tie goes to the even mantissa (down)
        Assert.Equal(1f + 4 * MathF.Pow(2, -8), back[^1]);   // a tie goes to the even mantissa (up)
    }

    [Fact]
    public void WireSizesAreTwoBytesPerElement()
    {
        Assert.Equal(5 + 1 + 2 * 1000, new HalfCompressor().WireBytes(1000));
        Assert.Equal(5 + 2 * 1000, new BFloat16Compressor().WireBytes(1000));
    }

    [Fact]
    public void MalformedHalfPrecisionIsRefused()
    {
        var c = new HalfCompressor();
        var buffer = new byte[c.WireBytes(4)];
        c.Encode([1f, 2f, 3f, 4f], buffer, new Random(0));
        buffer[^1] = 0x7C; buffer[^2] = 0x00;   // half infinity
        Assert.Throws<InvalidDataException>(() => WireCodec.Decode(buffer, new float[4]));
        Assert.Throws<InvalidDataException>(() => WireCodec.Decode(buffer.AsSpan(0, buffer.Length - 1), new float[4]));
        var b = new BFloat16Compressor();
        var bb = new byte[b.WireBytes(2)];
        b.Encode([1f, 2f], bb, new Random(0));
        bb[^1] = 0x7F; bb[^2] = 0xC0;   // bfloat16 NaN
        Assert.Throws<InvalidDataException>(() => WireCodec.Decode(bb, new float[2]));
    }
}
