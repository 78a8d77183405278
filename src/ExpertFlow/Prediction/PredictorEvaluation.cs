using ExpertFlow.Tracing;
using Toolkit.Reporting;

namespace ExpertFlow.Prediction;

/// <summary>The predictor's held-out evaluation next to the heuristics, and its table.</summary>
public static class PredictorEvaluation
{
    /// <summary>Evaluates the predictor and the heuristics on held-out traces, prefill and decode.</summary>
    public static List<PathMetrics> Evaluate(RoutingPathPredictor? predictor, RoutingTraceHeader header, IReadOnlyList<TracedSequence> train,
        IReadOnlyList<TracedSequence> heldOut, int maxLength, int batchSize = 16)
    {
        var (prefill, decode) = PathEvaluation.Examples(heldOut, maxLength);
        return Evaluate(predictor == null ? null : new PredictorScorer(predictor, header), header, train, prefill, decode, batchSize);
    }

    /// <summary>Evaluates a probabilistic scorer (the predictor) and the heuristics on held-out prefill and decode examples.</summary>
    public static List<PathMetrics> Evaluate(IPathScorer? predictor, RoutingTraceHeader header, IReadOnlyList<TracedSequence> train,
        IReadOnlyList<PredictorExample> prefill, IReadOnlyList<PredictorExample> decode, int batchSize = 16)
    {
        var frequency = new FrequencyScorer(train, header);
        var scorers = new List<(IPathScorer Scorer, bool Probabilities)>
        {
            (frequency, false),
            (new PreviousTokenScorer(frequency, header), false),
            (new TokenTableScorer(train, header, frequency), false),
        };
        if (predictor != null) scorers.Add((predictor, true));
        var results = new List<PathMetrics>();
        foreach (var (scorer, probabilities) in scorers)
        {
            results.Add(PathEvaluation.Evaluate(scorer, prefill, header, "prefill", probabilities, batchSize));
            results.Add(PathEvaluation.Evaluate(scorer, decode, header, "decode", probabilities, batchSize));
        }
        return results;
    }

    public static MarkdownTable Table(IEnumerable<PathMetrics> metrics)
    {
        var table = new MarkdownTable("method", "tokens", "recall@k", "recall (p>=0.5)", "precision (p>=0.5)", "batch-16 coverage", "predicted/needed experts per layer (batch 16)");
        foreach (var m in metrics)
            table.Add($"{m.Method}, {m.Mode}", m.Tokens, Pct(m.Recall), Pct(m.ThresholdRecall), Pct(m.ThresholdPrecision), Pct(m.BatchCoverage),
                $"{m.PredictedPerBatch:F2} / {m.TruePerBatch:F2}");
        return table;
    }

    static string Pct(double v) => (100 * v).ToString("F1", System.Globalization.CultureInfo.InvariantCulture) + "%";
}
