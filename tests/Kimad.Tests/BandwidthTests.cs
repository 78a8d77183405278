using Kimad.Bandwidth;

namespace Kimad.Tests;

public class BandwidthTests
{
    [Fact]
    public void MonitorConvergesOnASyntheticLinkAndFollowsAStep()
    {
        // Simulated link: 2 ms latency, rate 20 Mbit/s then 3 Mbit/s, +-10 % jitter on every transfer time.
        var monitor = new BandwidthMonitor(smoothing: 0.3);
        var random = new Random(4);
        double Transfer(double mbps, long bytes)
        {
            double seconds = (0.002 + bytes * 8 / (mbps * 1e6)) * (0.9 + 0.2 * random.NextDouble());
            monitor.Record("w0", LinkDirection.Uplink, bytes, TimeSpan.FromSeconds(seconds));
            return bytes * 8 / (0.002 + bytes * 8 / (mbps * 1e6)) / 1e6;   // the link's effective throughput for this size
        }
        double effective = 0;
        for (int i = 0; i < 30; i++) effective = Transfer(20, 200_000);
        double fast = monitor.Estimate("w0", LinkDirection.Uplink)!.Value / 1e6;
        Assert.InRange(fast, effective * 0.9, effective * 1.1);
        Assert.InRange(effective, 18, 20);
        int rounds = 0;
        while (Math.Abs(monitor.Estimate("w0", LinkDirection.Uplink)!.Value / 1e6 - 3) > 0.3 && rounds < 100) { effective = Transfer(3, 60_000); rounds++; }
        Assert.True(rounds <= 12, $"took {rounds} transfers to follow the step from 20 to 3 Mbit/s");
        Assert.Null(monitor.Estimate("w0", LinkDirection.Downlink));
        Assert.Single(monitor.Snapshot());
    }

    [Fact]
    public async Task TokenBucketNeverExceedsItsRateAndFollowsTheTrace()
    {
        // Real time: on a loaded machine sleeps run late, so only upper bounds and the step's direction are checked.
        var trace = new BandwidthTrace([(0, 16), (0.6, 2), (1000, 2)]);
        var clock = TraceClock.StartingNow();
        var link = new TokenBucketThrottle(trace, clock);
        var monitor = new BandwidthMonitor(smoothing: 0.5);
        async Task Transfer()
        {
            var sw = System.Diagnostics.Stopwatch.StartNew();
            for (int sent = 0; sent < 40_000; sent += 4000) await link.WaitAsync(4000, TestContext.Current.CancellationToken);
            monitor.Record("w0", LinkDirection.Uplink, 40_000, sw.Elapsed);
        }
        while (clock.Seconds < 0.5) await Transfer();
        double fast = monitor.Estimate("w0", LinkDirection.Uplink)!.Value / 1e6;
        while (clock.Seconds < 0.65) await Transfer();
        for (int i = 0; i < 8; i++) await Transfer();
        double slow = monitor.Estimate("w0", LinkDirection.Uplink)!.Value / 1e6;
        Assert.True(fast <= 16 * 1.6, $"fast phase measured {fast:F2} Mbit/s on a 16 Mbit/s bucket (the first transfer may use the 16 kB burst)");
        Assert.True(slow <= 2 * 1.1, $"slow phase measured {slow:F2} Mbit/s on a 2 Mbit/s bucket");
        Assert.True(slow < 0.6 * fast, $"the step from 16 to 2 Mbit/s was not seen: {fast:F2} -> {slow:F2}");
    }

    [Fact]
    public void EwmaWeightsTheNewestSample()
    {
        var m = new BandwidthMonitor(0.5);
        m.Record("a", LinkDirection.Uplink, 1000, TimeSpan.FromSeconds(1));   // 8000 bit/s
        m.Record("a", LinkDirection.Uplink, 2000, TimeSpan.FromSeconds(1));   // 16000 bit/s
        Assert.Equal(12000, m.Estimate("a", LinkDirection.Uplink)!.Value, 6);
        m.Record("a", LinkDirection.Uplink, 5, TimeSpan.Zero);                // unresolvable: counted, not used
        Assert.Equal(12000, m.Estimate("a", LinkDirection.Uplink)!.Value, 6);
        Assert.Equal(3005, m.Snapshot()[0].TotalBytes);
    }

    [Fact]
    public void ShippedTracesLoadAndLoop()
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "Traces");
        var files = Directory.GetFiles(dir, "*.csv");
        Assert.Contains(files, f => f.EndsWith("random-walk.csv"));
        Assert.True(files.Length >= 4);
        foreach (var f in files) Assert.True(BandwidthTrace.Load(f).MbpsAt(12.3) > 0);
        var step = BandwidthTrace.Load(Path.Combine(dir, "step.csv"));
        Assert.Equal(20, step.MbpsAt(5));
        Assert.Equal(2, step.MbpsAt(25));
        Assert.Equal(120, step.Period);
        Assert.Equal(2, step.MbpsAt(145));
    }

    [Fact]
    public void BadTracesAreRejected()
    {
        string path = Path.GetTempFileName();
        File.WriteAllText(path, "seconds,mbps\n0,5\n3,abc\n");
        Assert.Contains(":3", Assert.Throws<FormatException>(() => BandwidthTrace.Load(path)).Message);
        File.WriteAllText(path, "0,5\n0,6\n");
        Assert.Throws<ArgumentException>(() => BandwidthTrace.Load(path));
        File.WriteAllText(path, "0,-1\n");
        Assert.Throws<ArgumentException>(() => BandwidthTrace.Load(path));
        File.Delete(path);
    }
}
