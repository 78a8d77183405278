using Kimad.Bandwidth;
using Microsoft.Extensions.Logging;

namespace Kimad.Shaping;

/// <summary>Replays each worker's trace on its tc link, checking every 100 ms (rates change only on trace steps).</summary>
public sealed class TraceShaper(NamespaceNetwork network, IReadOnlyList<(BandwidthTrace Trace, TraceClock Clock)> links, ILogger log)
{
    public async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            for (int i = 0; i < links.Count; i++)
            {
                try { network.SetRate(i, links[i].Trace.MbpsAt(links[i].Clock.Seconds)); }
                catch (InvalidOperationException e) { log.LogWarning("shaping worker {Worker}: {Error}", i, e.Message); }
            }
            try { await Task.Delay(100, ct); } catch (OperationCanceledException) { return; }
        }
    }
}
