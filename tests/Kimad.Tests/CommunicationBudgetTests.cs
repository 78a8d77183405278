using Kimad.Bandwidth;
using Kimad.Training;

namespace Kimad.Tests;

public class CommunicationBudgetTests
{
    [Fact]
    public void FixedBudgetIsBandwidthTimesTime()
    {
        var b = new CommunicationBudget(timeBudgetMs: 50);
        Assert.Equal(50, b.BudgetMs);
        Assert.Equal(8e6 / 8 * 0.05, b.BudgetBytes(8e6)!.Value, 6);   // 8 Mbit/s x 50 ms = 50 kB
        Assert.Null(b.BudgetBytes(null));
        b.RecordCompute(1000);                                           // compute does not move a fixed budget
        Assert.Equal(50, b.BudgetMs);
    }

    [Fact]
    public void CommRatioFollowsTheSmoothedComputeTime()
    {
        var b = new CommunicationBudget(timeBudgetMs: 100, commRatio: 0.5, smoothing: 0.5);
        Assert.Null(b.BudgetMs);                                         // nothing measured yet: no budget (smallest level)
        Assert.Null(b.BudgetBytes(1e6));
        b.RecordCompute(80);
        Assert.Equal(40, b.BudgetMs!.Value, 9);                          // 0.5 x 80 ms; the fixed 100 ms is replaced
        b.RecordCompute(40);
        Assert.Equal(0.5 * 60, b.BudgetMs!.Value, 9);                    // EWMA 0.5: (80 + 40) / 2
        Assert.Equal(2e6 / 8 * 0.030, b.BudgetBytes(2e6)!.Value, 6);
        b.RecordCompute(double.NaN);                                     // ignored
        Assert.Equal(30, b.BudgetMs!.Value, 9);
        for (int i = 0; i < 60; i++) b.RecordCompute(200);
        Assert.Equal(100, b.BudgetMs!.Value, 3);                         // converges to R x compute
    }

    [Fact]
    public void BadSettingsAreRefused()
    {
        Assert.Throws<ArgumentException>(() => new CommunicationBudget(0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CommunicationBudget(100, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CommunicationBudget(100, 1, smoothing: 0));
    }

    [Fact]
    public void BudgetEstimateFollowsADropAtOnceAndARiseSmoothly()
    {
        var m = new BandwidthMonitor(0.3);
        for (int i = 0; i < 20; i++) m.Record("w", LinkDirection.Uplink, 100_000, TimeSpan.FromSeconds(100_000 * 8 / 40e6));   // 40 Mbit/s
        Assert.Equal(40e6, m.BudgetEstimate("w", LinkDirection.Uplink)!.Value, 1);
        m.Record("w", LinkDirection.Uplink, 1_000, TimeSpan.FromSeconds(1_000 * 8 / 0.4e6));                                   // 100x drop
        double afterDrop = m.BudgetEstimate("w", LinkDirection.Uplink)!.Value;
        Assert.InRange(afterDrop, 0.4e6, 1.5e6);                                        // harmonic: 1 / (0.7 / 40 + 0.3 / 0.4) = 1.3 Mbit/s
        Assert.True(m.Estimate("w", LinkDirection.Uplink)!.Value > 20e6);               // the rate EWMA still believes 28 Mbit/s
        for (int i = 0; i < 3; i++) m.Record("w", LinkDirection.Uplink, 1_000, TimeSpan.FromSeconds(1_000 * 8 / 0.4e6));
        for (int i = 0; i < 20; i++) m.Record("w", LinkDirection.Uplink, 100_000, TimeSpan.FromSeconds(100_000 * 8 / 40e6));   // back up
        Assert.InRange(m.BudgetEstimate("w", LinkDirection.Uplink)!.Value, 30e6, 40e6);
        Assert.Null(m.BudgetEstimate("w", LinkDirection.Downlink));
    }
}

public class LatencyAwareBudgetTests
{
    [Fact]
    public void LatencyIsSeparatedFromTheRateSoSmallBudgetsDoNotCollapse()
    {
        // 20 Mbit/s with 8 ms per message: a 10 ms budget fits only 2 ms of wire time = 5 kB.
        var m = new BandwidthMonitor(0.3);
        var random = new Random(3);
        foreach (var bytes in Enumerable.Range(0, 40).Select(_ => random.Next(1_000, 60_000)))
            m.Record("w", LinkDirection.Uplink, bytes, TimeSpan.FromSeconds(0.008 + bytes * 8 / 20e6));
        Assert.InRange(m.LatencySeconds("w", LinkDirection.Uplink), 0.0075, 0.0085);
        Assert.InRange(m.BudgetEstimate("w", LinkDirection.Uplink)!.Value, 18e6, 22e6);
        Assert.InRange(m.BytesWithin("w", LinkDirection.Uplink, 0.010)!.Value, 4_000, 6_000);
        Assert.Equal(0, m.BytesWithin("w", LinkDirection.Uplink, 0.005)!.Value);   // below the latency: nothing fits, send the smallest level
        // The throughput EWMA mixes latency into the rate and sees far less than the link gives.
        Assert.True(m.Estimate("w", LinkDirection.Uplink)!.Value < 16e6);
    }

    [Fact]
    public void SameSizedMessagesKeepLatencyZero()
    {
        var m = new BandwidthMonitor(0.3);
        for (int i = 0; i < 10; i++) m.Record("w", LinkDirection.Downlink, 50_000, TimeSpan.FromSeconds(0.02));
        Assert.Equal(0, m.LatencySeconds("w", LinkDirection.Downlink));
        Assert.Equal(20e6, m.BudgetEstimate("w", LinkDirection.Downlink)!.Value, 1);
        Assert.Null(m.BytesWithin("w", LinkDirection.Uplink, 1));
    }
}

public class KimadPlusShortcutTests
{
    [Fact]
    public void WholeModelFittingSkipsTheKnapsackAndOneByteLessDoesNot()
    {
        var random = new Random(5);
        var vectors = new[] { 300, 40, 2000 }.Select(n => Enumerable.Range(0, n).Select(_ => (float)random.NextDouble()).ToArray()).ToArray();
        long full = Kimad.Compression.ModelCodec.Bytes(vectors.Select(v => v.Length).ToArray(), [1.0, 1.0, 1.0]);
        var method = (Kimad.Compression.KimadPlusMethod)Kimad.Compression.CompressionMethod.Parse("kimad+");
        Assert.All(method.Choose(vectors, full), c => Assert.IsType<Kimad.Compression.IdentityCompressor>(c));
        Assert.Null(method.LastSolution);
        var ratios = method.Choose(vectors, full - 1);
        Assert.NotNull(method.LastSolution);
        Assert.Contains(ratios, c => c is not Kimad.Compression.IdentityCompressor);
        Assert.True(Kimad.Compression.ModelCodec.Bytes(vectors.Select(v => v.Length).ToArray(), ratios) <= full - 1);
    }
}
