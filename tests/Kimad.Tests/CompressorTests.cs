using Kimad.Compression;

namespace Kimad.Tests;

public class CompressorTests
{
    public static TheoryData<string> AllSpecs => new() { "identity", "topk:0.1", "topk:1", "randk:0.05", "randk:1", "sign", "qsgd:1", "qsgd:4", "qsgd:255", "natural" };

    static float[] RandomVector(int n, int seed)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1) * (r.Next(10) == 0 ? 10f : 1f)).ToArray();
    }

    [Theory]
    [MemberData(nameof(AllSpecs))]
    public void EncodedSizeIsExactlyWireBytes(string spec)
    {
        var c = Compressors.Parse(spec);
        foreach (int n in new[] { 0, 1, 7, 8, 9, 1000, 4097 })
        {
            var v = RandomVector(n, n);
            var buffer = new byte[c.WireBytes(n) + 16];
            int written = c.Encode(v, buffer, new Random(1));
            Assert.Equal(c.WireBytes(n), written);
            var back = new float[n];
            Assert.Equal(written, WireCodec.Decode(buffer.AsSpan(0, written), back));
        }
    }

    [Fact]
    public void WireBytesFollowTheDocumentedFormulas()
    {
        int n = 1000;
        Assert.Equal(5 + 4 * n, new IdentityCompressor().WireBytes(n));
        Assert.Equal(5 + 4 + 8 * 100, new TopKCompressor(0.1).WireBytes(n));
        Assert.Equal(5 + 4 + 8 * 100, new RandKCompressor(0.1).WireBytes(n));
        Assert.Equal(5 + 4 + 125, new ScaledSignCompressor().WireBytes(n));
        Assert.Equal(5 + 1 + 4 + (n * (1 + 3) + 7) / 8, new QsgdCompressor(4).WireBytes(n));   // levels 0..4 need 3 bits
        Assert.Equal(5 + 1 + 4 + (n * (1 + 1) + 7) / 8, new QsgdCompressor(1).WireBytes(n));
        Assert.Equal(5 + (9 * n + 7) / 8, new NaturalCompressor().WireBytes(n));
    }

    [Fact]
    public void IdentityRoundTripsExactly()
    {
        var v = RandomVector(333, 2);
        var back = new float[v.Length];
        WireCodec.Apply(new IdentityCompressor(), v, back, new Random(0));
        Assert.Equal(v, back);
    }

    [Fact]
    public void TopKKeepsTheLargestMagnitudesAndIsContractive()
    {
        foreach (var (n, ratio, seed) in new[] { (1000, 0.01, 1), (1000, 0.3, 2), (17, 0.5, 3), (5000, 0.001, 4) })
        {
            var v = RandomVector(n, seed);
            var c = new TopKCompressor(ratio);
            int k = Compressors.KeptCount(ratio, n);
            var back = new float[n];
            WireCodec.Apply(c, v, back, new Random(0));
            Assert.Equal(k, back.Count(x => x != 0));
            float smallestKept = back.Where(x => x != 0).Min(MathF.Abs);
            float largestDropped = v.Where((x, i) => back[i] == 0).Select(MathF.Abs).DefaultIfEmpty(0).Max();
            Assert.True(smallestKept >= largestDropped, $"kept {smallestKept} < dropped {largestDropped}");
            double err = v.Zip(back, (a, b) => (double)(a - b) * (a - b)).Sum(), norm = v.Sum(x => (double)x * x);
            Assert.True(err <= (1 - (double)k / n) * norm + 1e-9, $"TopK error {err} above (1 - k/n)||v||^2 = {(1 - (double)k / n) * norm}");
        }
    }

    [Fact]
    public void TopKHandlesTies()
    {
        var v = new float[] { 1, -1, 1, 1, 0.5f, -1 };
        var back = new float[v.Length];
        WireCodec.Apply(new TopKCompressor(0.5), v, back, new Random(0));
        Assert.Equal(3, back.Count(x => x != 0));
        Assert.All(back.Where(x => x != 0), x => Assert.Equal(1f, MathF.Abs(x)));
    }

    [Fact]
    public void ScaledSignHasTheMeanMagnitude()
    {
        var v = new float[] { 2, -4, 0.5f, -1.5f };
        var back = new float[4];
        WireCodec.Apply(new ScaledSignCompressor(), v, back, new Random(0));
        Assert.Equal(new float[] { 2, -2, 2, -2 }, back);
    }

    /// <summary>Mean of many compressions vs the input; the tolerance is 5 standard errors per coordinate.</summary>
    static (double MaxZ, double MaxAbsBias) MonteCarlo(ICompressor c, float[] v, int samples)
    {
        var random = new Random(42);
        var sum = new double[v.Length]; var sumSq = new double[v.Length];
        var back = new float[v.Length];
        for (int s = 0; s < samples; s++)
        {
            WireCodec.Apply(c, v, back, random);
            for (int i = 0; i < v.Length; i++) { sum[i] += back[i]; sumSq[i] += (double)back[i] * back[i]; }
        }
        double maxZ = 0, maxBias = 0;
        for (int i = 0; i < v.Length; i++)
        {
            double mean = sum[i] / samples, variance = Math.Max(sumSq[i] / samples - mean * mean, 0);
            double se = Math.Sqrt(variance / samples), bias = Math.Abs(mean - v[i]);
            maxBias = Math.Max(maxBias, bias);
            maxZ = Math.Max(maxZ, se == 0 ? (bias < 1e-6 ? 0 : double.PositiveInfinity) : bias / se);
        }
        return (maxZ, maxBias);
    }

    [Theory]
    [InlineData("randk:0.1")]
    [InlineData("qsgd:2")]
    [InlineData("qsgd:16")]
    [InlineData("natural")]
    public void UnbiasedCompressorsAreUnbiasedByMonteCarlo(string spec)
    {
        var c = Compressors.Parse(spec);
        Assert.True(c.Unbiased);
        var (maxZ, _) = MonteCarlo(c, RandomVector(40, 9), 20000);
        Assert.True(maxZ < 5, $"{spec}: the sample mean is {maxZ:F1} standard errors away from the input");
    }

    [Fact]
    public void TheMonteCarloCheckDetectsABiasedCompressor()
    {
        // TopK and sign are biased: the same check must flag them, or the unbiasedness test could not fail.
        var v = RandomVector(40, 9);
        Assert.True(MonteCarlo(new TopKCompressor(0.1), v, 2000).MaxAbsBias > 0.1);
        Assert.True(MonteCarlo(new ScaledSignCompressor(), v, 2000).MaxAbsBias > 0.1);
    }

    [Fact]
    public void NaturalCompressionRoundsToPowersOfTwo()
    {
        var v = new float[] { 3f, -0.3f, 1f, 0f, 1e-40f };
        var back = new float[v.Length];
        WireCodec.Apply(new NaturalCompressor(), v, back, new Random(3));
        Assert.Contains(back[0], new[] { 2f, 4f });
        Assert.Contains(back[1], new[] { -0.25f, -0.5f });
        Assert.Equal(1f, back[2]);
        Assert.Equal(0f, back[3]);
    }

    [Fact]
    public void DecoderRejectsMalformedInput()
    {
        var v = RandomVector(100, 5);
        var c = new TopKCompressor(0.1);
        var buffer = new byte[c.WireBytes(100)];
        c.Encode(v, buffer, new Random(0));
        var dst = new float[100];
        Assert.Throws<InvalidDataException>(() => WireCodec.Decode(buffer.AsSpan(0, buffer.Length - 1), dst));          // truncated
        Assert.Throws<InvalidDataException>(() => WireCodec.Decode(buffer, new float[99]));                                // wrong shape
        var badIndex = (byte[])buffer.Clone();
        BitConverter.GetBytes(100).CopyTo(badIndex, 9);                                                                      // first index = n
        Assert.Contains("index", Assert.Throws<InvalidDataException>(() => WireCodec.Decode(badIndex, dst)).Message);
        var badKind = (byte[])buffer.Clone(); badKind[0] = 77;
        Assert.Contains("unknown compressor", Assert.Throws<InvalidDataException>(() => WireCodec.Decode(badKind, dst)).Message);
        var nan = new byte[new IdentityCompressor().WireBytes(1)];
        new IdentityCompressor().Encode([float.NaN], nan, new Random(0));
        Assert.Throws<InvalidDataException>(() => WireCodec.Decode(nan, new float[1]));
    }

    [Fact]
    public void LevelErrorsMatchTheActualCompressionError()
    {
        var v = RandomVector(2000, 11);
        var levels = CompressionLevels.Default;
        var errors = new double[levels.Length];
        CompressionLevels.Errors(v, levels, errors);
        var back = new float[v.Length];
        for (int j = 0; j < levels.Length; j++)
        {
            WireCodec.Apply(CompressionLevels.For(levels[j]), v, back, new Random(0));
            double actual = v.Zip(back, (a, b) => (double)(a - b) * (a - b)).Sum();
            Assert.Equal(actual, errors[j], 1e-6 * Math.Max(1, actual));
        }
    }

    [Fact]
    public void ModelMessageRejectsTrailingBytes()
    {
        float[][] layers = [RandomVector(10, 1), RandomVector(20, 2)];
        var msg = ModelCodec.Encode(layers, [1.0, 0.5], new Random(0));
        Assert.Equal(ModelCodec.Bytes([10, 20], [1.0, 0.5]), msg.Length);
        var back = new[] { new float[10], new float[20] };
        ModelCodec.Decode(msg, back);
        Assert.Equal(layers[0], back[0]);
        Assert.Throws<InvalidDataException>(() => ModelCodec.Decode([.. msg, 0], back));
    }
}

public class TensorCompressionTests
{
    [Fact]
    public void TorchTopKAndSignMatchTheCpuEncoders()
    {
        Toolkit.Runtime.LibTorch.EnsureLoaded();
        var r = new Random(8);
        // Distinct magnitudes (random floats tie by chance at this size, and ties may be kept in any order).
        var v = Enumerable.Range(1, 5000).OrderBy(_ => r.Next()).Select(i => i / 5000f * (r.Next(2) == 0 ? -1 : 1)).ToArray();
        using var t = TorchSharp.torch.tensor(v);
        foreach (double ratio in new[] { 0.001, 0.05, 0.5, 1.0 })
        {
            var c = new TopKCompressor(ratio);
            var cpu = new byte[c.WireBytes(v.Length)];
            c.Encode(v, cpu, new Random(0));
            var fromTorch = TensorCompression.TopK(t, ratio);
            var a = new float[v.Length]; var b = new float[v.Length];
            WireCodec.Decode(cpu, a); WireCodec.Decode(fromTorch, b);
            Assert.True(a.SequenceEqual(b), $"ratio {ratio}: cpu kept {string.Join(",", a.Select((x, i) => (x, i)).Where(p => p.x != 0).Take(6).Select(p => $"{p.i}:{p.x}"))} torch kept {string.Join(",", b.Select((x, i) => (x, i)).Where(p => p.x != 0).Take(6).Select(p => $"{p.i}:{p.x}"))}");
            Assert.Equal(cpu, fromTorch);
        }
        foreach (int n in new[] { 5000, 4999, 1 })
        {
            var s = new ScaledSignCompressor();
            var cpu = new byte[s.WireBytes(n)];
            s.Encode(v.AsSpan(0, n), cpu, new Random(0));
            using var part = TorchSharp.torch.tensor(v[..n]);
            var gpuPath = TensorCompression.ScaledSign(part);
            Assert.Equal(cpu.AsSpan(9).ToArray(), gpuPath.AsSpan(9).ToArray());            // packed bits identical
            Assert.Equal(BitConverter.ToSingle(cpu, 5), BitConverter.ToSingle(gpuPath, 5), 1e-5f); // scale (summation order differs)
        }
    }
}

public class SelectionTests
{
    [Fact]
    public void QuickselectAgreesWithSorting()
    {
        var r = new Random(12);
        for (int trial = 0; trial < 300; trial++)
        {
            int n = r.Next(1, 3000);
            var v = Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1) * (r.Next(3) == 0 ? 0 : 1)).ToArray();   // many ties at 0
            int k = r.Next(1, n + 1);
            float expected = v.Select(MathF.Abs).OrderByDescending(x => x).ElementAt(k - 1);
            Assert.Equal(expected, Selection.KthLargestMagnitude(v, k));
        }
    }
}
