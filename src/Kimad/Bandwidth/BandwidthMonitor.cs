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
    sealed class State { public double Bps; public long Samples; public long Bytes; }

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
            s.Samples++;
        }
    }

    /// <summary>The smoothed estimate in bit/s, or null before the first usable sample.</summary>
    public double? Estimate(string link, LinkDirection direction)
    {
        if (!links.TryGetValue((link, direction), out var s)) return null;
        lock (s) return s.Samples == 0 ? null : s.Bps;
    }

    /// <summary>All links (metrics).</summary>
    public IReadOnlyList<LinkEstimate> Snapshot() =>
        links.Select(kv => { lock (kv.Value) return new LinkEstimate(kv.Key.Item1, kv.Key.Item2, kv.Value.Bps, kv.Value.Samples, kv.Value.Bytes); })
             .OrderBy(e => e.Link, StringComparer.Ordinal).ThenBy(e => e.Direction).ToList();
}
