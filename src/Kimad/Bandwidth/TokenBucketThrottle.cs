namespace Kimad.Bandwidth;

/// <summary>
/// In-process bandwidth shaping (the portable fallback to tc): a token bucket whose rate follows a trace.
/// Senders call <see cref="WaitAsync"/> before writing each chunk; the bucket holds at most
/// <see cref="BurstBytes"/> so a sender cannot exceed the rate for long.
/// </summary>
public sealed class TokenBucketThrottle(BandwidthTrace trace, TraceClock clock, int burstBytes = 16 * 1024)
{
    readonly SemaphoreSlim gate = new(1, 1);
    double tokens = burstBytes, lastSeconds = clock.Seconds;

    public int BurstBytes => burstBytes;
    public BandwidthTrace Trace => trace;

    /// <summary>Current rate in bytes per second.</summary>
    public double BytesPerSecond(double seconds) => trace.MbpsAt(seconds) * 1e6 / 8;

    /// <summary>Waits until <paramref name="bytes"/> may be sent.</summary>
    public async Task WaitAsync(int bytes, CancellationToken cancellationToken = default)
    {
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            double remaining = bytes;
            while (true)
            {
                double now = clock.Seconds;
                tokens = Math.Min(burstBytes, tokens + (now - lastSeconds) * BytesPerSecond(now));
                lastSeconds = now;
                double take = Math.Min(remaining, tokens);
                tokens -= take;
                remaining -= take;
                if (remaining <= 0) return;
                double wait = Math.Min(remaining, burstBytes) / BytesPerSecond(now);
                await Task.Delay(TimeSpan.FromSeconds(Math.Max(wait, 0.001)), cancellationToken).ConfigureAwait(false);
            }
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
