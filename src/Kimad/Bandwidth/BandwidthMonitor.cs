using System.Collections.Concurrent;

namespace Kimad.Bandwidth;

/// <summary>Direction of a transfer as seen from the worker: uplink = worker to server.</summary>
public enum LinkDirection { Uplink, Downlink }

/// <summary>Current estimate of one link and direction.</summary>
public sealed record LinkEstimate(string Link, LinkDirection Direction, double BitsPerSecond, long Samples, long TotalBytes);

/// <summary>
/// Bandwidth per link and direction from timed transfers: each transfer gives a throughput sample
/// bytes * 8 / seconds; the estimate is an exponentially weighted moving average of the samples
/// (weight <see cref="Smoothing"/> on the newest). Thread-safe.
/// </summary>
public sealed class BandwidthMonitor(double smoothing = 0.3, double minSeconds = 1e-4)
{
    sealed class State
    {
        public double Bps, SecondsPerBit;
        public long Samples, Bytes;
        public double Latency;
        public readonly Queue<(double Bytes, double Seconds)> Recent = new();
    }

    /// <summary>Transfers over which the per-message latency (the shortest transfer time) is taken.</summary>
    public const int LatencyWindow = 32;

    readonly ConcurrentDictionary<(string, LinkDirection), State> links = new();

    public double Smoothing { get; } = smoothing is > 0 and <= 1 ? smoothing : throw new ArgumentOutOfRangeException(nameof(smoothing), smoothing, "smoothing must be in (0, 1]");

    /// <summary>Records one transfer; transfers shorter than the clock can resolve are counted but not used.</summary>
    public void Record(string link, LinkDirection direction, long bytes, TimeSpan elapsed)
    {
        var s = links.GetOrAdd((link, direction), _ => new State());
        lock (s)
        {
            s.Bytes += bytes;
            if (elapsed.TotalSeconds < minSeconds || bytes <= 0) return;
            double sample = bytes * 8.0 / elapsed.TotalSeconds;
            s.Bps = s.Samples == 0 ? sample : Smoothing * sample + (1 - Smoothing) * s.Bps;
            // Seconds per bit net of the per-message latency seen so far (at least half of a transfer counts as transfer).
            double spb = Math.Max(elapsed.TotalSeconds - s.Latency, 0.5 * elapsed.TotalSeconds) / (bytes * 8.0);
            s.Recent.Enqueue((bytes, elapsed.TotalSeconds));
            if (s.Recent.Count > LatencyWindow) s.Recent.Dequeue();
            UpdateLatency(s);
            s.SecondsPerBit = s.Samples == 0 ? spb : Smoothing * spb + (1 - Smoothing) * s.SecondsPerBit;
            s.Samples++;
        }
    }

    /// <summary>The smoothed estimate in bit/s, or null before the first usable sample.</summary>
    public double? Estimate(string link, LinkDirection direction)
    {
        if (!links.TryGetValue((link, direction), out var s)) return null;
        lock (s) return s.Samples == 0 ? null : s.Bps;
    }

    /// <summary>
    /// The link's rate for budgeting time, in bit/s, net of the per-message latency: the EWMA of seconds per bit
    /// (a harmonic mean), each sample (seconds - latency) / bits; null before the first usable sample.
    /// A time budget is linear in seconds per bit, so this follows a 100x drop within one or two transfers
    /// (0.7 x 1/40 + 0.3 x 1/0.4 gives 1.3 Mbit/s, where the rate EWMA of <see cref="Estimate"/> still says
    /// 28 Mbit/s and would size the next messages for a link that is gone) and rises smoothly.
    /// </summary>
    public double? BudgetEstimate(string link, LinkDirection direction)
    {
        if (!links.TryGetValue((link, direction), out var s)) return null;
        lock (s) return s.Samples == 0 ? null : 1 / s.SecondsPerBit;
    }

    /// <summary>
    /// Per-message latency (seconds): the intercept of a least-squares line seconds = latency + bytes x c over the
    /// last <see cref="LatencyWindow"/> transfers, clamped to [0, shortest transfer]; updated only when the sizes
    /// differ enough (largest >= 1.5 x smallest), the slope is positive and the line explains at least half
    /// the variance of the times (r^2 >= 0.5), else the previous value is kept (0 at
    /// first). Without it, a time budget close to the latency (small messages; RPC and scheduling overhead) makes
    /// throughput look small, the next budget smaller, and the sender collapses to the smallest level on a fast link.
    /// </summary>
    public double LatencySeconds(string link, LinkDirection direction)
    {
        if (!links.TryGetValue((link, direction), out var s)) return 0;
        lock (s) return s.Latency;
    }

    /// <summary>Bytes expected to arrive within <paramref name="seconds"/>: rate x (seconds - latency), at least 0; null before any sample.</summary>
    public double? BytesWithin(string link, LinkDirection direction, double seconds)
    {
        if (BudgetEstimate(link, direction) is not { } bps) return null;
        return bps / 8 * Math.Max(0, seconds - LatencySeconds(link, direction));
    }

    static void UpdateLatency(State s)
    {
        if (s.Recent.Count < 4) return;
        double minB = double.MaxValue, maxB = 0, minT = double.MaxValue, mb = 0, mt = 0;
        foreach (var (b, t) in s.Recent) { minB = Math.Min(minB, b); maxB = Math.Max(maxB, b); minT = Math.Min(minT, t); mb += b; mt += t; }
        if (maxB < 1.5 * minB) return;
        mb /= s.Recent.Count; mt /= s.Recent.Count;
        double sbb = 0, sbt = 0, stt = 0;
        foreach (var (b, t) in s.Recent) { sbb += (b - mb) * (b - mb); sbt += (b - mb) * (t - mt); stt += (t - mt) * (t - mt); }
        double slope = sbt / sbb;
        // Only a line that explains the times (r^2 >= 0.5): right after a 100x change, big fast and small slow
        // transfers can take the same time, and an intercept fitted to that would call it all latency.
        if (!(slope > 0) || !(stt > 0) || sbt * sbt < 0.5 * sbb * stt) return;
        s.Latency = Math.Clamp(mt - slope * mb, 0, minT);
    }

    /// <summary>All links (metrics).</summary>
    public IReadOnlyList<LinkEstimate> Snapshot() =>
        links.Select(kv => { lock (kv.Value) return new LinkEstimate(kv.Key.Item1, kv.Key.Item2, kv.Value.Bps, kv.Value.Samples, kv.Value.Bytes); })
             .OrderBy(e => e.Link, StringComparer.Ordinal).ThenBy(e => e.Direction).ToList();
}
