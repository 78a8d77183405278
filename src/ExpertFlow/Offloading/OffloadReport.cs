using Toolkit.Runtime;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Toolkit.Reporting;

namespace ExpertFlow.Offloading;

/// <summary>Writes offloading stats as JSON, markdown and PNG plots.</summary>
public static class OffloadReport
{
    static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The JSON document of one run (what --stats-json writes).</summary>
    public static object Document(OffloadStats s) => new
    {
        s.Policy,
        s.Device,
        s.HostTier,
        BudgetBytes = s.Plan.BudgetBytes,
        FootprintBytes = s.Plan.Footprint.Total,
        ResidentWeightBytes = s.Plan.Footprint.ResidentWeightBytes,
        KvCacheBytes = s.Plan.Footprint.KvCacheBytes,
        ActivationBytes = s.Plan.Footprint.ActivationBytes,
        s.Plan.Slots,
        s.Plan.TotalExperts,
        BytesPerExpert = s.Plan.BytesPerExpert,
        PlannedDeviceBytes = s.Plan.PlannedBytes,
        WithinBudget = s.Plan.PlannedBytes <= s.Plan.BudgetBytes && s.PeakCachedExpertBytes <= s.Plan.SlotBytes,
        s.PeakCachedExpertBytes,
        s.PeakMeasuredDeviceBytes,
        s.Steps,
        s.Tokens,
        s.Seconds,
        s.TokensPerSecond,
        s.Requests,
        s.Hits,
        s.HitRatio,
        s.DecodeRequests,
        s.DecodeHits,
        s.DecodeHitRatio,
        HitRatioPerLayer = s.Layers.Select(l => new { l.Layer, l.Requests, l.Hits, l.Misses, l.HitRatio }),
        s.DemandTransfers,
        s.PrefetchTransfers,
        s.DemandBytes,
        s.PrefetchBytes,
        s.TransferBytes,
        s.PrefetchWasted,
        s.StallSeconds,
        s.HostStallSeconds,
        s.DeviceStallSeconds,
        s.DemandCopySeconds,
        s.DemandBandwidthGBps,
        s.HostInLayerSeconds,
        s.HostBetweenLayersSeconds,
        s.AnticipatedLayers,
        s.HostComputedExperts,
        s.HostComputeSeconds,
        Memory = s.MemoryTimeline.Select(m => new { m.Seconds, m.PlannedBytes, m.CachedExpertBytes, m.MeasuredDeviceBytes }),
    };

    /// <summary>Writes --stats-json (atomically); <paramref name="extra"/> is merged in under "run" when given.</summary>
    public static void WriteJson(string path, OffloadStats stats, object? extra = null)
    {
        object doc = extra == null ? Document(stats) : new { Run = extra, Offload = Document(stats) };
        Files.WriteAllTextAtomically(path, JsonSerializer.Serialize(doc, Json));
    }

    public static string Serialize(object value) => JsonSerializer.Serialize(value, Json);

    /// <summary>One row per run: the columns of the CLI table and the markdown report.</summary>
    public static readonly string[] Headers =
        ["policy", "budget", "slots", "tok/s", "hit ratio", "transfers", "GB moved", "stall s", "demand GB/s", "peak device", "within budget"];

    public static object[] Row(OffloadStats s) =>
    [
        s.Policy, MemorySize.Format(s.Plan.BudgetBytes), $"{s.Plan.Slots}/{s.Plan.TotalExperts}",
        F(s.TokensPerSecond, "0.00"), F(s.HitRatio, "0.000"), (s.DemandTransfers + s.PrefetchTransfers).ToString(CultureInfo.InvariantCulture),
        F(s.TransferBytes / 1e9, "0.00"), F(s.StallSeconds, "0.000"), s.DemandCopySeconds > 0 ? F(s.DemandBandwidthGBps, "0.0") : "-",
        s.PeakMeasuredDeviceBytes >= 0 ? MemorySize.Format(s.PeakMeasuredDeviceBytes) : MemorySize.Format(s.Plan.PlannedBytes) + " (planned)",
        s.Plan.PlannedBytes <= s.Plan.BudgetBytes ? "yes" : "NO",
    ];

    public static string Markdown(IEnumerable<OffloadStats> runs)
    {
        var table = new MarkdownTable(Headers);
        foreach (var s in runs) table.Add(Row(s));
        return table.ToString();
    }

    /// <summary>Bar chart: hit ratio per MoE layer, one bar per run.</summary>
    public static void PlotHitRatio(string pngPath, IReadOnlyList<(string Name, OffloadStats Stats)> runs, string title = "Expert cache hit ratio per layer")
    {
        var layers = runs[0].Stats.Layers.Select(l => l.Layer.ToString(CultureInfo.InvariantCulture)).ToArray();
        Charts.Bars(pngPath, title, "hit ratio", layers,
            runs.Select(r => (r.Name, (IReadOnlyList<double>)r.Stats.Layers.Select(l => l.HitRatio).ToArray())).ToArray(),
            width: Math.Max(900, 40 * layers.Length * Math.Max(1, runs.Count) / 2));
    }

    /// <summary>Line chart: memory over time (cached expert bytes + footprint, and the driver's measure when known).</summary>
    public static void PlotMemory(string pngPath, IReadOnlyList<(string Name, OffloadStats Stats)> runs, string title = "Device memory over time")
    {
        var series = new List<Series>();
        foreach (var (name, s) in runs)
        {
            var m = s.MemoryTimeline;
            series.Add(new Series($"{name}: footprint + cached experts", m.Select(x => x.Seconds).ToArray(),
                m.Select(x => (s.Plan.Footprint.Total + x.CachedExpertBytes) / (double)(1L << 30)).ToArray()));
            if (m.Any(x => x.MeasuredDeviceBytes >= 0))
                series.Add(new Series($"{name}: measured (driver)", m.Select(x => x.Seconds).ToArray(),
                    m.Select(x => Math.Max(0, x.MeasuredDeviceBytes) / (double)(1L << 30)).ToArray()));
        }
        Charts.Line(pngPath, title, "seconds", "GiB", series);
    }

    static string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);
}
