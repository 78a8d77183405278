using Kimad.Allocation;
using Kimad.Compression;

namespace Kimad.Tests;

/// <summary>Level sets: every level's announced size and error against the encoding itself, and the knapsack over mixed
/// level sets against brute force.</summary>
public class LevelSetTests
{
    static float[] Vector(int n, int seed)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1) * (r.Next(10) == 0 ? 8f : 1f)).ToArray();
    }

    static double Error(ReadOnlySpan<float> v, float[] back)
    {
        double e = 0;
        for (int i = 0; i < v.Length; i++) e += ((double)back[i] - v[i]) * ((double)back[i] - v[i]);
        return e;
    }

    [Theory]
    [InlineData("topk")]
    [InlineData("randk")]
    [InlineData("qsgd")]
    [InlineData("natural")]
    [InlineData("sign")]
    [InlineData("fp16")]
    [InlineData("bf16")]
    [InlineData("powersgd")]
    [InlineData("mixed")]
    public void EveryLevelsSizeIsExactAndItsErrorIsTheMeasuredOrExpectedOne(string spec)
    {
        var set = new LevelSet(spec, layerRows: [16]);
        var v = Vector(16 * 40, 3);
        var options = set.Profile(0, v);
        Assert.IsType<IdentityCompressor>(options[0].Compressor);
        Assert.True(options.Count > 1, $"{spec}: no level besides identity");
        double energy = v.Sum(x => (double)x * x);
        foreach (var o in options)
        {
            var buffer = new byte[o.Bytes];
            Assert.Equal(o.Bytes, o.Compressor.Encode(v, buffer, new Random(1)));
            var back = new float[v.Length];
            if (o.Compressor is RandKCompressor or QsgdCompressor or NaturalCompressor)
            {
                // Random levels: the announced error is the expectation; Monte Carlo over 400 encodings.
                var random = new Random(2);
                double mean = 0;
                int draws = 400;
                for (int k = 0; k < draws; k++) { WireCodec.Apply(o.Compressor, v, back, random); mean += Error(v, back) / draws; }
                Assert.True(Math.Abs(mean - o.Error) < 0.05 * o.Error + 1e-6 * energy, $"{o.Compressor.Name}: expected {o.Error:G4}, mean of {draws} draws {mean:G4}");
            }
            else
            {
                if (o.Compressor is LowRankCompressor) continue;   // checked against a fresh state in LowRankTests (encoding moves the warm start)
                WireCodec.Apply(o.Compressor, v, back, new Random(0));
                Assert.True(Math.Abs(Error(v, back) - o.Error) <= 1e-9 * energy, $"{o.Compressor.Name}: announced {o.Error:G6}, measured {Error(v, back):G6}");
            }
            Assert.True(o.Error < energy || o.Compressor is IdentityCompressor, $"{o.Compressor.Name} is not contractive: {o.Error} >= {energy}");
        }
    }

    [Fact]
    public void ContractiveQsgdHasLessErrorThanPlainQsgdAndIsUnbiasedUpToBeta()
    {
        var v = Vector(3000, 4);
        var plain = new QsgdCompressor(1);
        var contractive = new QsgdCompressor(1, contractive: true);
        var (energy, variance) = QsgdCompressor.Moments(v, 1);
        Assert.True(variance > energy, "with one level and 3000 elements plain QSGD is not contractive");
        Assert.Equal(variance, plain.ExpectedError(v), 6);
        Assert.Equal(energy * variance / (energy + variance), contractive.ExpectedError(v), 6);
        Assert.True(contractive.ExpectedError(v) < energy);
    }

    [Fact]
    public void PowerSgdLeavesVectorsDenseAndMixedHoldsEveryFamily()
    {
        var set = new LevelSet("powersgd", layerRows: [1, 8]);
        Assert.Single(set.Profile(0, Vector(64, 1)));            // a bias: identity only
        Assert.Contains(set.Profile(1, Vector(8 * 30, 1)), o => o.Compressor is LowRankCompressor);
        var mixed = new LevelSet("mixed", layerRows: [8]).Profile(0, Vector(8 * 30, 2)).Select(o => o.Compressor.GetType()).ToHashSet();
        foreach (var t in new[] { typeof(TopKCompressor), typeof(QsgdCompressor), typeof(NaturalCompressor), typeof(ScaledSignCompressor), typeof(HalfCompressor), typeof(BFloat16Compressor), typeof(LowRankCompressor) })
            Assert.Contains(t, mixed);
        Assert.Equal("bf16,topk", LevelSet.Normalize("TopK, bf16"));
        Assert.Throws<ArgumentException>(() => LevelSet.Normalize("zstd"));
        Assert.Throws<ArgumentException>(() => LevelSet.Normalize("mixed,topk"));
    }

    [Fact]
    public void KnapsackOverMixedLevelsEqualsBruteForce()
    {
        // Three real layers (a matrix, a bias, a matrix) with the mixed levels' exact sizes and errors; one budget unit per
        // byte, so the programme is exact and must match enumeration of every combination.
        var solver = new MultipleChoiceKnapsack();
        int[] lengths = [12 * 20, 12, 6 * 10];
        int[] rows = [12, 1, 6];
        for (int seed = 0; seed < 4; seed++)
        {
            var vectors = lengths.Select((n, l) => Vector(n, 10 * seed + l)).ToArray();
            var set = new LevelSet("mixed", rows);
            long dense = lengths.Sum(n => (long)new IdentityCompressor().WireBytes(n));
            foreach (double share in new[] { 0.05, 0.2, 0.5, 0.9 })
            {
                long budget = (long)(share * dense);
                var (problem, options) = KimadPlusMethod.BuildProblem(vectors, set, budget, (int)budget);
                Assert.True(problem.Layers.Sum(l => Math.Log(l.Options.Count)) < Math.Log(2e6), "instance too large to enumerate");
                var (best, feasible) = KnapsackTests.BruteForce(problem);
                var s = solver.Solve(problem);
                Assert.Equal(feasible, s.Feasible);
                if (!feasible) continue;
                Assert.True(s.TotalBytes <= budget);
                Assert.Equal(best, s.TotalError, 9);
                Assert.Equal(s.TotalBytes, ModelCodec.Bytes(lengths, s.Choices.Select((j, l) => options[l][j].Compressor).ToArray()));
            }
        }
    }

    [Fact]
    public void MethodsTakeTheirLevelSet()
    {
        Assert.Equal("kimad+@mixed", CompressionMethod.Parse("kimad+@mixed").Name);
        Assert.Equal("kimad+@fp16,qsgd", CompressionMethod.Parse("kimad+", levels: "qsgd,fp16").Name);
        Assert.Equal("kimad+", CompressionMethod.Parse("kimad+").Name);
        Assert.Equal("kimad-progress@powersgd", CompressionMethod.Qualify("kimad-progress", "powersgd"));
        Assert.Equal("kimad+@sign", CompressionMethod.Qualify("kimad+@sign", "mixed"));
        Assert.Equal("ef21-fixed:0.1", CompressionMethod.Qualify("ef21-fixed:0.1", "mixed"));
        Assert.Equal("kimad+:auto@qsgd", CompressionMethod.DownlinkSpec("kimad-progress@qsgd"));
        Assert.Throws<ArgumentException>(() => CompressionMethod.Parse("ef21-fixed:0.1@mixed"));
        Assert.Throws<ArgumentException>(() => CompressionMethod.Parse("ef21-fixed:zstd"));
        var fixedLowRank = CompressionMethod.Parse("ef21-fixed:powersgd:4", layerRows: [10, 1]).Choose([new float[200], new float[10]], null);
        Assert.IsType<LowRankCompressor>(fixedLowRank[0]);
        Assert.IsType<IdentityCompressor>(fixedLowRank[1]);
        Assert.IsType<QsgdCompressor>(CompressionMethod.Parse("ef21-fixed:qsgd:7").Choose([new float[5]], null)[0]);
    }

    [Fact]
    public void WholeModelKimadPicksTheLeastErrorLevelThatFits()
    {
        var vectors = new[] { Vector(400, 1), Vector(400, 2) };
        var method = (KimadMethod)CompressionMethod.Parse("kimad@fp16,sign");
        long dense = 2 * (5 + 4 * 400);
        // fp16 (about half the dense size) fits in 60 % of it: the least error that fits.
        Assert.All(method.Choose(vectors, 0.6 * dense), c => Assert.IsType<HalfCompressor>(c));
        Assert.All(method.Choose(vectors, 0.2 * dense), c => Assert.IsType<ScaledSignCompressor>(c));
        Assert.All(method.Choose(vectors, dense), c => Assert.IsType<IdentityCompressor>(c));
        Assert.All(method.Choose(vectors, 10), c => Assert.IsType<ScaledSignCompressor>(c));     // nothing fits: the smallest
        Assert.All(method.Choose(vectors, null), c => Assert.IsType<ScaledSignCompressor>(c));
    }
}
