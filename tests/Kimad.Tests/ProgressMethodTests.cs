using Kimad.Compression;

namespace Kimad.Tests;

/// <summary>kimad-progress: the learned rule against the closed-form best message size of a known progress law.</summary>
public class ProgressMethodTests
{
    static float[][] Model(int seed)
    {
        var r = new Random(seed);
        return [Enumerable.Range(0, 4000).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray(), Enumerable.Range(0, 100).Select(_ => (float)r.NextDouble()).ToArray()];
    }

    /// <summary>Feeds the method a progress law g(q) (plus noise) for the arm it sends; returns the arm it settles on.</summary>
    static int Settle(Func<double, double> law, LinkTiming timing, int rounds, double noise, int seed)
    {
        var method = (KimadProgressMethod)CompressionMethod.Parse("kimad-progress", seed: seed);
        var v = Model(seed);
        var noiseRandom = new Random(seed + 100);
        for (int t = 0; t < rounds; t++)
        {
            method.ChooseForRate(v, timing);
            method.RecordProgress(law(KimadProgressMethod.Shares[method.LastArm!.Value]) + noise * (noiseRandom.NextDouble() * 2 - 1));
        }
        return method.BestArm(v.Sum(x => 5.0 + 4 * x.Length), timing);
    }

    static int ClosedFormBest(Func<double, double> law, LinkTiming timing, double dense) =>
        Enumerable.Range(0, KimadProgressMethod.Shares.Length).MaxBy(a => law(KimadProgressMethod.Shares[a]) / (timing.FixedSeconds + KimadProgressMethod.Shares[a] * dense * timing.SecondsPerByte));

    [Theory]
    [InlineData(1e9, 0.5)]    // fast link, sqrt law: send everything
    [InlineData(1e6, 0.5)]    // 1 Mbit/s
    [InlineData(1e5, 0.5)]    // 100 kbit/s: small messages
    [InlineData(1e6, 0.1)]    // progress that saturates early (q^0.1): smaller messages than the sqrt prior says
    [InlineData(1e6, 1.0)]    // progress linear in q: larger messages than the prior says
    public void SettlesOnTheArmWithTheBestProgressPerSecond(double bitsPerSecond, double exponent)
    {
        var timing = new LinkTiming(0.05, 8 / bitsPerSecond);
        double dense = 5 + 4 * 4000 + 5 + 4 * 100;
        Func<double, double> law = q => 0.02 * Math.Pow(q, exponent);
        int expected = ClosedFormBest(law, timing, dense);
        int settled = Settle(law, timing, 400, noise: 0.002, seed: 1);
        Assert.Equal(expected, settled);
    }

    [Fact]
    public void ABandwidthDropMovesTheChoiceWithoutRelearning()
    {
        var method = (KimadProgressMethod)CompressionMethod.Parse("kimad-progress", seed: 3);
        var v = Model(3);
        double dense = v.Sum(x => 5.0 + 4 * x.Length);
        Func<double, double> law = q => 0.02 * Math.Sqrt(q);
        var fast = new LinkTiming(0.05, 8 / 1e8);
        for (int t = 0; t < 200; t++) { method.ChooseForRate(v, fast); method.RecordProgress(law(KimadProgressMethod.Shares[method.LastArm!.Value])); }
        var slow = new LinkTiming(0.05, 8 / 1e5);
        Assert.Equal(ClosedFormBest(law, fast, dense), method.BestArm(dense, fast));
        Assert.Equal(ClosedFormBest(law, slow, dense), method.BestArm(dense, slow));
        Assert.NotEqual(method.BestArm(dense, fast), method.BestArm(dense, slow));
    }

    [Fact]
    public void TheMessageFitsTheArmAndUnmeasuredProgressPrefersTheFastestArm()
    {
        var method = (KimadProgressMethod)CompressionMethod.Parse("kimad-progress@mixed", layerRows: [40, 1], seed: 4);
        var v = Model(4);
        double dense = v.Sum(x => 5.0 + 4 * x.Length);
        for (int t = 0; t < 50; t++)
        {
            var levels = method.ChooseForRate(v, new LinkTiming(0.05, 8 / 1e6));
            long bytes = ModelCodec.Bytes(v.Select(x => x.Length).ToArray(), levels);
            Assert.True(bytes <= KimadProgressMethod.Shares[method.LastArm!.Value] * dense || method.LastArm == KimadProgressMethod.Shares.Length - 1,
                $"{bytes} bytes for arm {method.LastArm}");
            method.RecordProgress(0);   // no measurable progress at all
        }
        Assert.Equal(KimadProgressMethod.Shares.Length - 1, method.BestArm(dense, new LinkTiming(0.05, 8 / 1e6)));
    }
}
