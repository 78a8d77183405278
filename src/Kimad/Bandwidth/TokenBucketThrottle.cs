namespace Kimad.Bandwidth;

/// <summary>
/// In-process bandwidth shaping (the portable fallback to tc): a token bucket whose rate follows a trace.
/// Senders call <see cref="WaitAsync"/> before writing each chunk; the bucket holds at most
/// <see cref="BurstBytes"/> so a sender cannot exceed the rate for long.
/// </summary>
public sealed class TokenBucketThrottle(BandwidthTrace trace, TraceClock clock, int burstBytes = 16 * 1024)
{
    /// <summary>One bucket per worker link: worker i replays trace i mod count, shifted by i x <paramref name="staggerSeconds"/>.</summary>
    public static Func<int, TokenBucketThrottle?> PerWorker(IReadOnlyList<BandwidthTrace> traces, long epochUnixMs, double staggerSeconds)
    {
        if (traces.Count == 0) return _ => null;
        var cache = new System.Collections.Concurrent.ConcurrentDictionary<int, TokenBucketThrottle>();
        return w => cache.GetOrAdd(w, i => new TokenBucketThrottle(traces[i % traces.Count], new TraceClock(epochUnixMs, i * staggerSeconds)));
    }

    readonly SemaphoreSlim gate = new(1, 1);
    double virtualTime = double.NegativeInfinity;   // trace time at which everything admitted so far has "left"

    public int BurstBytes => burstBytes;
    public BandwidthTrace Trace => trace;

    /// <summary>Rate in bytes per second at trace time <paramref name="seconds"/>.</summary>
    public double BytesPerSecond(double seconds) => trace.MbpsAt(seconds) * 1e6 / 8;

    /// <summary>Waits until <paramref name="bytes"/> may be sent. Scheduling by virtual finish time, so a late wake-up
    /// (timer granularity) is made up by the next calls, up to the burst size.</summary>
    public async Task WaitAsync(int bytes, CancellationToken cancellationToken = default)
    {
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            double now = clock.Seconds, rate = BytesPerSecond(now);
            virtualTime = Math.Max(virtualTime, now - burstBytes / rate);
            virtualTime += bytes / rate;
            double wait = virtualTime - now;
            if (wait > 0.0005) await Task.Delay(TimeSpan.FromSeconds(wait), cancellationToken).ConfigureAwait(false);
        }
        finally { gate.Release(); }
    }
}

/// <summary>
/// Trace time shared by all processes of a run: seconds since <see cref="EpochUnixMs"/> (set by the launcher)
/// plus a per-link offset, so that the shaper, the throttles and the plots agree on "now" in the trace.
/// </summary>
public sealed record TraceClock(long EpochUnixMs, double OffsetSeconds = 0)
{
    public double Seconds => (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - EpochUnixMs) / 1000.0 + OffsetSeconds;
    public double SecondsAt(DateTimeOffset time) => (time.ToUnixTimeMilliseconds() - EpochUnixMs) / 1000.0 + OffsetSeconds;
    public static TraceClock StartingNow() => new(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
}
