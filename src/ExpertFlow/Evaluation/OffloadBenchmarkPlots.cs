using Toolkit.Runtime;
using ExpertFlow.Model;
using ExpertFlow.Offloading;
using System.Globalization;
using System.Text.Json;
using Toolkit.Reporting;

namespace ExpertFlow.Evaluation;

/// <summary>
/// Redraws a benchmark's plots from its results.json (e.g. on a machine with fonts, when the benchmark ran
/// where SkiaSharp found none): hit ratio per layer and memory over time, one pair per batch size.
/// </summary>
public static class OffloadBenchmarkPlots
{
    public static IReadOnlyList<string> FromResults(string resultsJson, string folder)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(resultsJson));
        var runs = doc.RootElement.EnumerateArray()
            .Where(r => r.TryGetProperty("offload", out var o) && o.ValueKind == JsonValueKind.Object)
            .Where(r => !(r.TryGetProperty("note", out var n) && n.GetString() is { Length: > 0 }))
            .Select(r => (Batch: r.GetProperty("batch").GetInt32(), Name: $"{r.GetProperty("policy").GetString()} {MemorySize.Format(r.GetProperty("memory_bytes").GetInt64())}", Offload: r.GetProperty("offload")))
            .ToList();
        var written = new List<string>();
        foreach (var batch in runs.Select(r => r.Batch).Distinct())
        {
            var group = runs.Where(r => r.Batch == batch).ToList();
            var layers = group[0].Offload.GetProperty("hit_ratio_per_layer").EnumerateArray().Select(l => l.GetProperty("layer").GetInt32().ToString(CultureInfo.InvariantCulture)).ToArray();
            string hit = Path.Combine(folder, $"hit-ratio-batch{batch}.png");
            Charts.Bars(hit, $"Expert cache hit ratio per layer, batch {batch}", "hit ratio", layers,
                group.Select(r => (r.Name, (IReadOnlyList<double>)r.Offload.GetProperty("hit_ratio_per_layer").EnumerateArray().Select(l => l.GetProperty("hit_ratio").GetDouble()).ToArray())).ToArray(),
                width: 1400);
            var series = new List<Series>();
            foreach (var r in group)
            {
                var m = r.Offload.GetProperty("memory").EnumerateArray().ToArray();
                long footprint = r.Offload.GetProperty("footprint_bytes").GetInt64();
                var x = m.Select(s => s.GetProperty("seconds").GetDouble()).ToArray();
                series.Add(new Series($"{r.Name}: planned footprint + cached experts", x, m.Select(s => (footprint + s.GetProperty("cached_expert_bytes").GetInt64()) / (double)(1L << 30)).ToArray()));
                if (m.Any(s => s.GetProperty("measured_device_bytes").GetInt64() >= 0))
                    series.Add(new Series($"{r.Name}: measured (driver, above baseline)", x, m.Select(s => Math.Max(0, s.GetProperty("measured_device_bytes").GetInt64()) / (double)(1L << 30)).ToArray()));
            }
            string mem = Path.Combine(folder, $"memory-batch{batch}.png");
            Charts.Line(mem, $"Device memory over time, batch {batch}", "seconds", "GiB", series);
            written.Add(hit);
            written.Add(mem);
        }
        return written;
    }
}
