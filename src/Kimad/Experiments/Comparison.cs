using Kimad.Training;
using Toolkit.Reporting;

namespace Kimad.Experiments;

/// <summary>Finished runs side by side: time to several accuracy targets and totals, plus overlay plots (<c>kimad summarize</c>).</summary>
public static class Comparison
{
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
