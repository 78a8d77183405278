using ExpertFlow.Prediction;
using ExpertFlow.Scheduling;
using ExpertFlow.Tracing;
using Toolkit.Reporting;

namespace ExpertFlow.Evaluation;

/// <summary>
/// The predictor's held-out evaluation: per-token recall and precision and per-batch coverage next to the heuristics,
/// and the distinct experts per layer each batch activates with and without the token scheduler. Written as eval.md.
/// </summary>
public sealed record PredictorReport(IReadOnlyList<PathMetrics> Metrics, IReadOnlyList<SchedulingMetrics> Scheduling)
{
    /// <summary>Batch sizes of the scheduling rows.</summary>
    public static IReadOnlyList<int> SchedulingBatches { get; } = [4, 16];

    /// <summary>
    /// Evaluates <paramref name="predictor"/> on <paramref name="traces"/>; traces of another shape or vocabulary than the
    /// predictor's are an InvalidDataException naming the trace file.
    /// </summary>
    public static PredictorReport Evaluate(RoutingPathPredictor predictor, TraceSet traces, int maxLength)
    {
        if (traces.Header.NumLayers != predictor.Config.NumLayers || traces.Header.NumExperts != predictor.Config.NumExperts)
            throw new InvalidDataException($"the traces{(traces.Folder is { } folder ? $" in '{folder}'" : "")} ({traces.Header}) are not of the model the predictor was trained for " +
                $"({predictor.Config.NumLayers} MoE layers x {predictor.Config.NumExperts} experts); train the predictor again with 'expertflow train-predictor'");
        traces.CheckVocabulary(predictor.Config.VocabSize);
        var metrics = PredictorEvaluation.Evaluate(predictor, traces.Header, traces.Train, traces.HeldOut, maxLength);
        var scorer = new PredictorScorer(predictor, traces.Header);
        var scheduling = SchedulingBatches.Select(b => SchedulingEvaluation.Evaluate(scorer, traces.HeldOut, traces.Header, b, maxLength)).ToList();
        return new PredictorReport(metrics, scheduling);
    }

    /// <summary>Writes eval.md into <paramref name="folder"/> (atomically).</summary>
    public void Write(string folder)
    {
        var scheduling = new MarkdownTable("batch size", "decode steps", "experts/layer per batch, arrival order", "with token scheduler (predicted paths)", "scheduler on true paths (bound)", "split time ms");
        foreach (var s in Scheduling)
            scheduling.Add(s.BatchSize, s.Steps, s.InOrder.ToString("F2"), s.Scheduled.ToString("F2"), s.Oracle.ToString("F2"), s.MeanSplitMilliseconds.ToString("F2"));
        Files.WriteAllTextAtomically(Path.Combine(folder, "eval.md"), PredictorEvaluation.Table(Metrics).ToString() + "\n" + scheduling);
    }
}
