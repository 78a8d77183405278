using Kimad.Bandwidth;
using Kimad.Training;
using Microsoft.Extensions.Logging;
using Toolkit.Reporting;

namespace Kimad.Experiments;

/// <summary>PNG plots of one run: loss/accuracy vs wall time and vs bytes, bandwidth estimate vs trace, chosen ratios per layer.</summary>
public static class RunReport
{
    public static void Write(LaunchResult run, LaunchOptions o, IReadOnlyList<BandwidthTrace> traces, ILogger log)
    {
        var rounds = run.Rounds;
        if (rounds.Count == 0) { log.LogWarning("no rounds completed; no plots"); return; }
        string dir = run.OutputDirectory, name = o.Method;
        double[] wall = rounds.Select(r => r.WallSeconds).ToArray();
        double[] mb = rounds.Select(r => (r.BytesUp + r.BytesDown) / 1e6).ToArray();
        double[] loss = rounds.Select(r => r.TrainLoss).ToArray();
        Charts.Line(Path.Combine(dir, "loss_vs_time.png"), $"{o.Task}, {name}: training loss", "wall time (s)", "loss", [new Series(name, wall, loss)], logY: true);
        Charts.Line(Path.Combine(dir, "loss_vs_bytes.png"), $"{o.Task}, {name}: training loss", "MB sent (up + down)", "loss", [new Series(name, mb, loss)], logY: true);
        var evals = rounds.Where(r => r.EvalAccuracy is not null).ToList();
        if (evals.Count > 0)
        {
            Charts.Line(Path.Combine(dir, "accuracy_vs_time.png"), $"{o.Task}, {name}: test accuracy", "wall time (s)", "accuracy",
                [new Series(name, evals.Select(r => r.WallSeconds).ToArray(), evals.Select(r => r.EvalAccuracy!.Value).ToArray())]);
            Charts.Line(Path.Combine(dir, "accuracy_vs_bytes.png"), $"{o.Task}, {name}: test accuracy", "MB sent (up + down)", "accuracy",
                [new Series(name, evals.Select(r => (r.BytesUp + r.BytesDown) / 1e6).ToArray(), evals.Select(r => r.EvalAccuracy!.Value).ToArray())]);
        }
        // Bandwidth: worker 0's smoothed uplink estimate against the trace it was given.
        var est = rounds.Where(r => r.UplinkMbpsEstimate.ContainsKey(0)).ToList();
        if (est.Count > 0)
        {
            double T(RoundMetrics r) => (r.UnixMs - run.TraceEpochUnixMs) / 1000.0;
            var series = new List<Series> { new("worker 0 uplink estimate", est.Select(T).ToArray(), est.Select(r => r.UplinkMbpsEstimate[0]).ToArray()) };
            if (traces.Count > 0)
            {
                double t0 = 0, t1 = est.Select(T).Max();
                var xs = Enumerable.Range(0, 400).Select(i => t0 + (t1 - t0) * i / 399).ToArray();
                series.Add(new Series($"trace ({traces[0].Name})", xs, xs.Select(t => traces[0].MbpsAt(t)).ToArray()));
            }
            Charts.Line(Path.Combine(dir, "bandwidth.png"), "bandwidth: estimate vs true trace (worker 0)", "seconds since launch", "Mbit/s", series);
        }
        // Ratios per layer chosen by worker 0.
        var ratios = rounds.Where(r => r.UplinkRatios.ContainsKey(0)).ToList();
        if (ratios.Count > 0)
        {
            int layers = ratios[0].UplinkRatios[0].Length;
            var x = ratios.Select(r => (double)r.Round).ToArray();
            Charts.Line(Path.Combine(dir, "ratios.png"), $"{name}: kept fraction per layer (worker 0 uplink)", "round", "kept fraction",
                Enumerable.Range(0, layers).Select(l => new Series($"layer {l}", x, ratios.Select(r => (double)(l < r.UplinkRatios[0].Length ? r.UplinkRatios[0][l] : float.NaN)).ToArray())), logY: true);
        }
    }
}
