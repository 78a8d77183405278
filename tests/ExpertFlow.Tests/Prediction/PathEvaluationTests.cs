using ExpertFlow.Prediction;
using ExpertFlow.Tracing;

namespace ExpertFlow.Tests.Prediction;

public class PathEvaluationTests
{
    [Fact]
    public void Recall_counts_top_k_hits_and_precision_counts_thresholded_sets()
    {
        var header = new RoutingTraceHeader(1, 4, 2);
        var seq = new TracedSequence(0, [1, 2], [[0, 1], [2, 3]]);
        // Token 0: predicts {0, 2} -> one hit of two. Token 1: predicts {2, 3} -> two hits.
        var scorer = new FixedScorer((ex, j) => j == 0 ? [0.9f, 0.1f, 0.8f, 0.2f] : [0.1f, 0.1f, 0.9f, 0.7f]);
        var m = PathEvaluation.Evaluate(scorer, [PredictorExample.Prefill(seq, 8)], header, "prefill", probabilities: true, batchSize: 1);
        Assert.Equal(3.0 / 4, m.Recall, 6);
        Assert.Equal(3.0 / 4, m.ThresholdPrecision, 6);
        Assert.Equal(1.0 * 3 / 4, m.BatchCoverage, 6);
    }

    [Fact]
    public void Top_k_picks_highest_scores()
    {
        Span<int> top = stackalloc int[2];
        PathEvaluation.TopK([0.1f, 0.7f, 0.3f, 0.9f], top);
        Assert.Equal([3, 1], top.ToArray());
    }
}
