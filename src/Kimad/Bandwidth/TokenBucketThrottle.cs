using System.Diagnostics;

namespace Kimad.Bandwidth;

/// <summary>
/// In-process bandwidth shaping (the portable fallback to tc): a token bucket whose rate follows a trace.
/// Senders call <see cref="WaitAsync"/> before writing each chunk; the bucket holds at most
/// <see cref="BurstBytes"/> so a sender cannot exceed the rate for long.
/// </summary>
public sealed class TokenBucketThrottle(BandwidthTrace trace, double traceOffsetSeconds = 0, int burstBytes = 16 * 1024)
{
    readonly Stopwatch clock = Stopwatch.StartNew();
    readonly SemaphoreSlim gate = new(1, 1);
    double tokens = burstBytes, lastSeconds;

    public int BurstBytes => burstBytes;
    public BandwidthTrace Trace => trace;

    /// <summary>Current rate in bytes per second.</summary>
    public double BytesPerSecond(double seconds) => trace.MbpsAt(seconds + traceOffsetSeconds) * 1e6 / 8;

    /// <summary>Waits until <paramref name="bytes"/> may be sent.</summary>
    public async Task WaitAsync(int bytes, CancellationToken cancellationToken = default)
    {
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            double remaining = bytes;
            while (true)
            {
                double now = clock.Elapsed.TotalSeconds;
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
