using Kimad.Training;
using Toolkit.Reporting;

namespace Kimad.Experiments;

/// <summary>One method's outcome in a comparison.</summary>
public sealed record ComparisonRow(string Method, int Rounds, double WallSeconds, double? FinalAccuracy, double? FinalEvalLoss,
    double MegabytesUp, double MegabytesDown, double? SecondsToTarget, double? MegabytesToTarget, double MeanRoundMs);

/// <summary>Time-to-target and totals across methods, plus overlay plots.</summary>
public static class Comparison
{
    public static ComparisonRow Summarise(string method, IReadOnlyList<RoundMetrics> rounds, double? targetAccuracy, double? targetLoss)
    {
        var last = rounds.LastOrDefault();
        var lastEval = rounds.LastOrDefault(r => r.EvalLoss is not null);
        RoundMetrics? hit = null;
        if (targetAccuracy is { } a) hit = rounds.FirstOrDefault(r => r.EvalAccuracy >= a);
        else if (targetLoss is { } l) hit = rounds.FirstOrDefault(r => r.EvalLoss <= l);
        return new ComparisonRow(method, rounds.Count, last?.WallSeconds ?? 0, lastEval?.EvalAccuracy, lastEval?.EvalLoss,
            (last?.BytesUp ?? 0) / 1e6, (last?.BytesDown ?? 0) / 1e6, hit?.WallSeconds, hit is null ? null : (hit.BytesUp + hit.BytesDown) / 1e6,
            rounds.Count > 0 ? rounds.Average(r => r.RoundMilliseconds) : 0);
    }

    public static MarkdownTable Table(IReadOnlyList<ComparisonRow> rows, double? targetAccuracy, double? targetLoss)
    {
        string target = targetAccuracy is { } a ? $"s to acc {a:G3}" : targetLoss is { } l ? $"s to eval loss {l:G3}" : "s to target";
        var table = new MarkdownTable("method", "rounds", "wall s", "final acc", "final eval loss", "MB up", "MB down", "mean round ms", target, "MB to target");
        foreach (var r in rows)
            table.Add(r.Method, r.Rounds, r.WallSeconds, r.FinalAccuracy?.ToString("P1", System.Globalization.CultureInfo.InvariantCulture) ?? "-", r.FinalEvalLoss ?? double.NaN,
                r.MegabytesUp, r.MegabytesDown, r.MeanRoundMs, r.SecondsToTarget is { } s ? s : "not reached", r.MegabytesToTarget is { } m ? m : "-");
        return table;
    }

    /// <summary>
    /// Several runs against several accuracy targets: totals, best accuracy, and the wall time of the first evaluation
    /// at or above each target ("-" when never reached; quantised to the evaluation interval).
    /// </summary>
    public static MarkdownTable TargetsTable(IReadOnlyList<(string Method, IReadOnlyList<RoundMetrics> Rounds)> runs, IReadOnlyList<double> targets)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        var table = new MarkdownTable(["method", "rounds", "wall s", "best acc", "final acc", "MB up", "MB down", "mean round ms",
            .. targets.Select(t => $"s to {t.ToString("G3", inv)}")]);
        foreach (var (method, rounds) in runs)
        {
            var evals = rounds.Where(r => r.EvalAccuracy is not null).ToList();
            var last = rounds.LastOrDefault();
            string Acc(double? a) => a?.ToString("P1", inv) ?? "-";
            table.Add([method, rounds.Count, last?.WallSeconds ?? 0, Acc(evals.Count > 0 ? evals.Max(e => e.EvalAccuracy) : null), Acc(evals.LastOrDefault()?.EvalAccuracy),
                (last?.BytesUp ?? 0) / 1e6, (last?.BytesDown ?? 0) / 1e6, rounds.Count > 0 ? rounds.Average(r => r.RoundMilliseconds) : 0,
                .. targets.Select(t => evals.FirstOrDefault(e => e.EvalAccuracy >= t) is { } hit ? (object)hit.WallSeconds : "-")]);
        }
        return table;
    }

    public static void Plots(string dir, IReadOnlyList<(string Method, IReadOnlyList<RoundMetrics> Rounds)> runs)
    {
        var withEval = runs.Where(r => r.Rounds.Any(x => x.EvalLoss is not null)).ToList();
        if (withEval.Count == 0) return;
        IEnumerable<Series> S(Func<RoundMetrics, double> x, Func<RoundMetrics, double> y) =>
            withEval.Select(r => { var e = r.Rounds.Where(m => m.EvalLoss is not null).ToList(); return new Series(r.Method, e.Select(x).ToArray(), e.Select(y).ToArray()); });
        Charts.Line(Path.Combine(dir, "eval_loss_vs_time.png"), "evaluation loss", "wall time (s)", "loss", S(m => m.WallSeconds, m => m.EvalLoss!.Value), logY: true);
        Charts.Line(Path.Combine(dir, "eval_loss_vs_bytes.png"), "evaluation loss", "MB sent (up + down)", "loss", S(m => (m.BytesUp + m.BytesDown) / 1e6, m => m.EvalLoss!.Value), logY: true);
        if (withEval.Any(r => r.Rounds.Any(m => m.EvalAccuracy is not null)))
        {
            Charts.Line(Path.Combine(dir, "accuracy_vs_time.png"), "test accuracy", "wall time (s)", "accuracy", S(m => m.WallSeconds, m => m.EvalAccuracy ?? double.NaN));
            Charts.Line(Path.Combine(dir, "accuracy_vs_bytes.png"), "test accuracy", "MB sent (up + down)", "accuracy", S(m => (m.BytesUp + m.BytesDown) / 1e6, m => m.EvalAccuracy ?? double.NaN));
        }
    }
}
