using System.Globalization;
using System.Text.Json;
using Toolkit.Reporting;

namespace ExpertFlow.Evaluation;

/// <summary>The cache evaluation's artefacts: results.json, report.md (with an "x lru" column) and PNG plots per batch size.</summary>
public static class CacheEvaluationReport
{
    public const string ResultsFile = "results.json";

    /// <summary>Writes results.json (atomically; also after every case, so a run cut short keeps its measurements).</summary>
    public static void WriteResults(string folder, IEnumerable<CacheResult> results, string device)
    {
        Directory.CreateDirectory(folder);
        Files.WriteAllTextAtomically(Path.Combine(folder, ResultsFile), JsonSerializer.Serialize(results.Select(r => r with { Device = device })));
    }

    /// <summary>Reads an earlier results.json (to redraw its plots).</summary>
    public static List<CacheResult> ReadResults(string folder)
    {
        string path = Path.Combine(folder, ResultsFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"'{folder}' holds no {ResultsFile} of a cache evaluation", path);
        try { return JsonSerializer.Deserialize<List<CacheResult>>(File.ReadAllText(path)) ?? throw new InvalidDataException($"{path} holds no results"); }
        catch (JsonException e) { throw new InvalidDataException($"{path} is not a cache evaluation's results ({e.Message.Split('.')[0]})"); }
    }

    /// <summary>Decode tokens/s relative to lru's at the same cache share and batch, or null where lru was not run.</summary>
    public static double? VersusLru(IReadOnlyList<CacheResult> results, CacheResult r) =>
        r.Case.Policy != EvaluatedPolicy.AllResident
        && results.FirstOrDefault(l => l.Case.Policy == "lru" && l.Case.Batch == r.Case.Batch && l.Case.CacheFraction == r.Case.CacheFraction && l.Error == null) is { DecodeTokensPerSecond: > 0 } lru
            ? r.DecodeTokensPerSecond / lru.DecodeTokensPerSecond : null;

    /// <summary>Writes report.md with the results table.</summary>
    public static void WriteMarkdown(string folder, IReadOnlyList<CacheResult> results, string device, string command)
    {
        var table = new MarkdownTable("policy", "cache", "batch", "slots", "hit ratio", "decode hit ratio", "transfers (demand+prefetch)", "prefetch wasted", "stall s", "decode tok/s", "x lru", "predictor s", "experts/layer per batch", "ids = all-resident");
        foreach (var r in results)
            table.Add(r.Case.Policy, r.Case.CacheFraction.ToString("P0", CultureInfo.InvariantCulture), r.Case.Batch, r.Slots, r.HitRatio.ToString("F3"), r.DecodeHitRatio.ToString("F3"),
                $"{r.Transfers} ({r.DemandTransfers}+{r.PrefetchTransfers})", r.PrefetchWasted, r.StallSeconds.ToString("F3"), r.DecodeTokensPerSecond.ToString("F1"),
                VersusLru(results, r)?.ToString("F2", CultureInfo.InvariantCulture) ?? "", r.PredictorSeconds.ToString("F2"), r.ExpertsPerBatchLayer.ToString("F2"),
                r.Error ?? (r.SameIdsAsResident ? "yes" : "NO"));
        Files.WriteAllTextAtomically(Path.Combine(folder, "report.md"), $"# Cache evaluation ({device})\n\nCommand: `{command}`\n\n{table}\n");
    }

    /// <summary>Hit ratio and decode tokens/s by cache share, one pair of bar charts per batch size.</summary>
    public static void Plot(string folder, IReadOnlyList<CacheResult> results, string device)
    {
        var batchList = results.Select(r => r.Case.Batch).Distinct().Order().ToArray();
        var offloaded = results.Where(r => r.Case.Policy != EvaluatedPolicy.AllResident).ToList();
        var fractionList = offloaded.Select(r => r.Case.CacheFraction).Distinct().Order().ToArray();
        var policyList = offloaded.Select(r => r.Case.Policy).Distinct().ToArray();
        var labels = fractionList.Select(f => f.ToString("P0", CultureInfo.InvariantCulture)).ToList();
        IReadOnlyList<double> Values(string p, int b, Func<CacheResult, double> pick) =>
            fractionList.Select(f => results.Where(r => r.Case.Policy == p && r.Case.Batch == b && r.Case.CacheFraction == f).Select(pick).DefaultIfEmpty(0).First()).ToArray();
        foreach (int b in batchList)
        {
            Charts.Bars(Path.Combine(folder, $"hit-ratio-batch{b}.png"), $"Hit ratio by cache size, batch {b} ({device})", "hit ratio", labels,
                policyList.Select(p => (p, Values(p, b, r => r.HitRatio))).ToList());
            Charts.Bars(Path.Combine(folder, $"tokens-per-second-batch{b}.png"), $"Decode tokens/s by cache size, batch {b} ({device})", "tokens/s", labels,
                policyList.Select(p => (p, Values(p, b, r => r.DecodeTokensPerSecond))).ToList());
        }
    }
}
