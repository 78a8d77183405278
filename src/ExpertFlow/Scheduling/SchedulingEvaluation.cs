using ExpertFlow.Prediction;
using ExpertFlow.Tracing;

namespace ExpertFlow.Scheduling;

/// <summary>
/// Measures on held-out routing traces how many distinct experts each batch activates when two batches of
/// decoding sequences are regrouped by the scheduler using the predictor's paths (and, as a bound, using
/// the true paths). The cost is always counted on the true routing.
/// </summary>
public static class SchedulingEvaluation
{
    public static SchedulingMetrics Evaluate(IPathScorer scorer, IReadOnlyList<TracedSequence> heldOut, RoutingTraceHeader header, int batchSize, int maxLength)
    {
        var (_, decode) = PathEvaluation.Examples(heldOut, maxLength);
        var scores = scorer.Score(decode);
        int l = header.NumLayers, e = header.NumExperts, k = header.TopK, le = l * e;
        double inOrder = 0, scheduled = 0, oracle = 0, splitMs = 0;
        int steps = 0;
        var top = new int[k];
        for (int g = 0; g + 2 * batchSize <= decode.Count; g += 2 * batchSize)
        {
            int length = Enumerable.Range(g, 2 * batchSize).Min(i => decode[i].TokenCount);
            for (int j = 0; j < length; j++)
            {
                var truth = new List<ExpertSet>();
                var predicted = new List<ExpertSet>();
                for (int i = g; i < g + 2 * batchSize; i++)
                {
                    var t = new ExpertSet(l, e);
                    var route = decode[i].Sequence.Experts[decode[i].TokenStart + j];
                    for (int r = 0; r < route.Length; r++) t.Add(r / k, route[r]);
                    truth.Add(t);
                    var p = new ExpertSet(l, e);
                    for (int layer = 0; layer < l; layer++)
                    {
                        PathEvaluation.TopK(scores[i].AsSpan(j * le + layer * e, e), top);
                        foreach (int x in top) p.Add(layer, x);
                    }
                    predicted.Add(p);
                }
                var first = Enumerable.Range(0, batchSize).ToArray();
                var second = Enumerable.Range(batchSize, batchSize).ToArray();
                inOrder += TokenScheduler.Cost(truth, first, second);
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var split = TokenScheduler.Split(predicted);
                splitMs += clock.Elapsed.TotalMilliseconds;
                scheduled += TokenScheduler.Cost(truth, split.First, split.Second);
                oracle += TokenScheduler.Split(truth).Cost;
                steps++;
            }
        }
        // Per batch and layer: cost counts two batches over all layers.
        double norm = Math.Max(1, steps) * 2.0 * l;
        return new SchedulingMetrics(batchSize, inOrder / norm, scheduled / norm, oracle / norm, splitMs / Math.Max(1, steps), steps);
    }
}
