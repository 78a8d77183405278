using System.Globalization;
using System.Text.Json;
using Kimad.Training;
using Microsoft.Extensions.Logging;
using Toolkit.Reporting;

namespace Kimad.Experiments;

/// <summary>A comparison: every method on every trace family with every seed, under one set of launch settings.</summary>
public sealed record CompareOptions
{
    /// <summary>Settings shared by all runs (method, seed, traces and output folder are set per run).</summary>
    public required LaunchOptions Launch { get; init; }
    public required IReadOnlyList<string> Methods { get; init; }
    public IReadOnlyList<int> Seeds { get; init; } = [0, 1, 2];
    public required IReadOnlyList<TraceFamily> Families { get; init; }
    /// <summary>Test-accuracy targets; the first is the one the headline and the plot use.</summary>
    public IReadOnlyList<double> Targets { get; init; } = [0.65, 0.7, 0.75];
    public required string OutputDirectory { get; init; }

    /// <summary>The default sweep: Kimad+, the progress-aware Kimad+ and Kimad against TopK at 0.1-30 % and uncompressed training.</summary>
    public static readonly string[] DefaultMethods =
        ["kimad+", "kimad-progress", "kimad", "ef21-fixed:0.001", "ef21-fixed:0.003", "ef21-fixed:0.01", "ef21-fixed:0.03", "ef21-fixed:0.1", "ef21-fixed:0.3", "uncompressed"];
}

/// <summary>One run's outcome against the targets.</summary>
public sealed record RunOutcome(string Family, string Method, int Seed, double?[] SecondsToTarget, double BestAccuracy, long Rounds, double WallSeconds,
    double MeanRoundMs, double MeanComputeMs, double MegabytesUp);

/// <summary>Median and spread of one method on one family.</summary>
public sealed record MethodSummary(string Family, string Method, int Runs, double?[] MedianSecondsToTarget, double?[] MinSecondsToTarget, double?[] MaxSecondsToTarget,
    int[] Reached, double MedianBestAccuracy, double MedianRounds, double MedianRoundMs, double MedianComputeMs);

/// <summary>
/// The comparison protocol: runs each (family, seed, method) once, method order rotated with the seed so that no
/// method always runs first; keeps every run's raw metrics under the output folder (a finished run is not repeated
/// when the same command is run again); summarises medians and spreads over seeds (summary.md, summary.json, one
/// PNG of the median time to the first target per family and method).
/// </summary>
public static class CompareProtocol
{
    public static async Task<IReadOnlyList<MethodSummary>> RunAsync(CompareOptions o, ILogger log, IProgress<string>? progress, CancellationToken ct)
    {
        if (o.Methods.Count == 0 || o.Seeds.Count == 0 || o.Families.Count == 0 || o.Targets.Count == 0)
            throw new ArgumentException("a comparison needs at least one method, seed, trace family and target");
        foreach (var m in o.Methods) Compression.CompressionMethod.Parse(m, levels: o.Launch.Levels);
        int total = o.Families.Count * o.Seeds.Count * o.Methods.Count, done = 0;
        foreach (var family in o.Families)
            for (int s = 0; s < o.Seeds.Count; s++)
                for (int k = 0; k < o.Methods.Count; k++)
                {
                    string method = o.Methods[(k + s) % o.Methods.Count];
                    string dir = RunDirectory(o.OutputDirectory, family.Name, o.Seeds[s], method);
                    done++;
                    if (File.Exists(Path.Combine(dir, DoneMarker))) { progress?.Report($"[{done}/{total}] {family.Name} seed {o.Seeds[s]} {method}: kept from an earlier run"); continue; }
                    progress?.Report($"[{done}/{total}] {family.Name} seed {o.Seeds[s]} {method}");
                    var result = await Launcher.RunAsync(o.Launch with
                    {
                        Method = method, Seed = o.Seeds[s], Traces = family.Traces, TraceStaggerSeconds = family.StaggerSeconds, OutputDirectory = dir,
                    }, log, ct);
                    if (result.Failure is null) File.WriteAllText(Path.Combine(dir, DoneMarker), DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture));
                    else log.LogWarning("{Family} seed {Seed} {Method}: {Failure}; the summary counts what it completed", family.Name, o.Seeds[s], method, result.Failure);
                }
        var outcomes = new List<RunOutcome>();
        foreach (var family in o.Families)
            foreach (int seed in o.Seeds)
                foreach (var method in o.Methods)
                {
                    string dir = RunDirectory(o.OutputDirectory, family.Name, seed, method);
                    if (File.Exists(Path.Combine(dir, "metrics.json"))) outcomes.Add(Outcome(family.Name, method, seed, MetricsFiles.Read(dir), o.Targets));
                }
        var summaries = Summarise(outcomes, o.Targets);
        WriteSummary(o, outcomes, summaries);
        return summaries;
    }

    const string DoneMarker = "done";

    public static string RunDirectory(string root, string family, int seed, string method) =>
        Path.Combine(root, family, $"seed{seed}", method.Replace(':', '_').Replace('+', 'p').Replace(',', '-'));

    /// <summary>Seconds to each target (first evaluation at or above it), best accuracy and the run's totals.</summary>
    public static RunOutcome Outcome(string family, string method, int seed, IReadOnlyList<RoundMetrics> rounds, IReadOnlyList<double> targets)
    {
        var evals = rounds.Where(r => r.EvalAccuracy is not null).ToList();
        return new RunOutcome(family, method, seed,
            targets.Select(t => evals.FirstOrDefault(e => e.EvalAccuracy >= t)?.WallSeconds).ToArray(),
            evals.Count > 0 ? evals.Max(e => e.EvalAccuracy!.Value) : double.NaN, rounds.Count, rounds.LastOrDefault()?.WallSeconds ?? 0,
            rounds.Count > 0 ? rounds.Average(r => r.RoundMilliseconds) : double.NaN, rounds.Count > 0 ? rounds.Average(r => r.WorkerComputeMilliseconds) : double.NaN,
            (rounds.LastOrDefault()?.BytesUp ?? 0) / 1e6);
    }

    /// <summary>
    /// Median over seeds per family and method. A run that never reached a target counts as slower than every run
    /// that did, so the median is missing (null) when at most half of the runs reached it.
    /// </summary>
    public static IReadOnlyList<MethodSummary> Summarise(IReadOnlyList<RunOutcome> outcomes, IReadOnlyList<double> targets) =>
        outcomes.GroupBy(r => (r.Family, r.Method)).Select(g =>
        {
            var runs = g.ToList();
            double?[] median = new double?[targets.Count], min = new double?[targets.Count], max = new double?[targets.Count];
            int[] reached = new int[targets.Count];
            for (int t = 0; t < targets.Count; t++)
            {
                var times = runs.Select(r => r.SecondsToTarget[t] ?? double.PositiveInfinity).ToList();
                double m = Median(times);
                median[t] = double.IsFinite(m) ? m : null;
                var hit = times.Where(double.IsFinite).ToList();
                reached[t] = hit.Count;
                min[t] = hit.Count > 0 ? hit.Min() : null;
                max[t] = hit.Count == runs.Count ? hit.Max() : null;
            }
            return new MethodSummary(g.Key.Family, g.Key.Method, runs.Count, median, min, max, reached, Median(runs.Select(r => r.BestAccuracy).ToList()),
                Median(runs.Select(r => (double)r.Rounds).ToList()), Median(runs.Select(r => r.MeanRoundMs).ToList()), Median(runs.Select(r => r.MeanComputeMs).ToList()));
        }).ToList();

    /// <summary>The median (the mean of the middle two for an even count); NaN for none.</summary>
    public static double Median(IReadOnlyList<double> values)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    static bool IsFixed(string method) => method.StartsWith("ef21-fixed:", StringComparison.Ordinal);

    /// <summary>The fixed level (any ef21-fixed method) with the least median time to target <paramref name="t"/> on a family (null: none reached it).</summary>
    public static MethodSummary? BestFixed(IEnumerable<MethodSummary> family, int t) =>
        family.Where(m => IsFixed(m.Method) && m.MedianSecondsToTarget[t] is not null)
            .MinBy(m => m.MedianSecondsToTarget[t]);

    static void WriteSummary(CompareOptions o, IReadOnlyList<RunOutcome> outcomes, IReadOnlyList<MethodSummary> summaries)
    {
        var inv = CultureInfo.InvariantCulture;
        string S(double? v) => v is { } x ? x.ToString("0.0", inv) : "-";
        var md = new System.Text.StringBuilder();
        var l = o.Launch;
        md.AppendLine($"# Comparison: {l.Task}, {l.Workers} workers, seeds {string.Join(",", o.Seeds)}");
        md.AppendLine();
        md.AppendLine(FormattableString.Invariant($"Budget: {(l.CommRatio > 0 ? $"communication {l.CommRatio} x compute per round and direction" : $"{l.TimeBudgetMs} ms per round and direction")}; compute floor {l.MinComputeMs} ms per round; at most {l.Rounds} rounds or {l.MaxWallSeconds?.ToString(inv) ?? "-"} s of training per run; evaluation every {l.EvalEvery} rounds."));
        md.AppendLine();
        md.AppendLine("## Headline: the adaptive methods against the best fixed level of the same call (medians over seeds; speed-up = its seconds / the method's)");
        md.AppendLine();
        var adaptive = o.Methods.Where(m => !IsFixed(m) && m != "uncompressed").ToList();
        var others = new[] { "uncompressed" }.Where(o.Methods.Contains).ToList();
        var head = new MarkdownTable(["family", "target", "best fixed level", "its median s", .. adaptive.Select(m => $"{m} median s (speed-up)"), .. others.Select(m => $"{m} median s")]);
        foreach (var family in o.Families)
        {
            var rows = summaries.Where(m => m.Family == family.Name).ToList();
            for (int t = 0; t < o.Targets.Count; t++)
            {
                var best = BestFixed(rows, t);
                string Cell(string method)
                {
                    double? mine = rows.FirstOrDefault(m => m.Method == method)?.MedianSecondsToTarget[t];
                    return best?.MedianSecondsToTarget[t] is { } b && mine is { } p ? $"{S(mine)} ({(b / p).ToString("0.00", inv)}x)" : S(mine);
                }
                head.Add([family.Name, o.Targets[t].ToString("P0", inv), best?.Method ?? "none reached it", S(best?.MedianSecondsToTarget[t]),
                    .. adaptive.Select(m => (object)Cell(m)), .. others.Select(m => (object)S(rows.FirstOrDefault(r => r.Method == m)?.MedianSecondsToTarget[t]))]);
            }
        }
        md.AppendLine(head.ToString());
        foreach (var family in o.Families)
        {
            md.AppendLine($"## {family.Name}: {family.Description}");
            md.AppendLine();
            var table = new MarkdownTable(["method", .. o.Targets.Select(t => $"s to {t.ToString("P0", inv)} (median (min to max), reached)"), "best acc (median)", "rounds", "round ms", "compute ms"]);
            foreach (var m in summaries.Where(m => m.Family == family.Name))
                table.Add([m.Method, .. Enumerable.Range(0, o.Targets.Count).Select(t => (object)$"{S(m.MedianSecondsToTarget[t])} ({S(m.MinSecondsToTarget[t])} to {S(m.MaxSecondsToTarget[t])}, {m.Reached[t]}/{m.Runs})"),
                    m.MedianBestAccuracy.ToString("P1", inv), m.MedianRounds, m.MedianRoundMs.ToString("0", inv), m.MedianComputeMs.ToString("0", inv)]);
            md.AppendLine(table.ToString());
        }
        md.AppendLine("Times are training wall seconds (evaluation excluded) to the first evaluation at or above the target; '-' where at most half of the seeds reached it; min to max over the seeds that reached it (max '-' when one did not).");
        Directory.CreateDirectory(o.OutputDirectory);
        Files.WriteAllTextAtomically(Path.Combine(o.OutputDirectory, "summary.md"), md.ToString());
        Files.WriteAllTextAtomically(Path.Combine(o.OutputDirectory, "summary.json"), JsonSerializer.Serialize(new { options = new { o.Methods, o.Seeds, families = o.Families, o.Targets, launch = o.Launch }, outcomes, summaries },
            new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
        double cap = outcomes.Count > 0 ? outcomes.Max(r => r.WallSeconds) : 0;
        Charts.Bars(Path.Combine(o.OutputDirectory, "time_to_target.png"), $"median seconds to {o.Targets[0].ToString("P0", inv)} test accuracy (not reached: drawn at {cap:0} s)",
            "seconds", o.Families.Select(f => f.Name).ToList(),
            o.Methods.Select(m => (m, (IReadOnlyList<double>)o.Families.Select(f => summaries.FirstOrDefault(s => s.Family == f.Name && s.Method == m)?.MedianSecondsToTarget[0] ?? cap).ToList())).ToList());
    }
}
