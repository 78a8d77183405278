using ExpertFlow.Tracing;

namespace ExpertFlow.Prediction;

/// <summary>Computes <see cref="PathMetrics"/>.</summary>
public static class PathEvaluation
{
    public static PathMetrics Evaluate(IPathScorer scorer, IReadOnlyList<PredictorExample> examples, RoutingTraceHeader header, string mode,
        bool probabilities, int batchSize = 16)
    {
        var scores = scorer.Score(examples);
        int l = header.NumLayers, e = header.NumExperts, k = header.TopK, le = l * e;
        long tokens = 0, hits = 0, setTrue = 0, setSize = 0;
        var top = new int[k];
        for (int x = 0; x < examples.Count; x++)
        {
            var ex = examples[x];
            for (int j = 0; j < ex.TokenCount; j++)
            {
                var truth = ex.Sequence.Experts[ex.TokenStart + j];
                tokens++;
                for (int layer = 0; layer < l; layer++)
                {
                    var s = scores[x].AsSpan(j * le + layer * e, e);
                    TopK(s, top);
                    for (int r = 0; r < k; r++) if (Contains(truth, layer, k, top[r])) hits++;
                    for (int ex2 = 0; ex2 < e; ex2++)
                    {
                        bool chosen = probabilities ? s[ex2] >= 0.5f : Array.IndexOf(top, ex2) >= 0;
                        if (!chosen) continue;
                        setSize++;
                        if (Contains(truth, layer, k, ex2)) setTrue++;
                    }
                }
            }
        }
        double recall = (double)hits / Math.Max(1, tokens * l * k);
        double thresholdRecall = (double)setTrue / Math.Max(1, tokens * l * k);
        double precision = (double)setTrue / Math.Max(1, setSize);
        var (coverage, predicted, actual) = BatchCoverage(examples, scores, header, batchSize);
        return new PathMetrics(scorer.Name, mode, recall, thresholdRecall, precision, coverage, predicted, actual, tokens);
    }

    static (double Coverage, double Predicted, double True) BatchCoverage(IReadOnlyList<PredictorExample> examples, IReadOnlyList<float[]> scores,
        RoutingTraceHeader header, int batchSize)
    {
        int l = header.NumLayers, e = header.NumExperts, k = header.TopK, le = l * e;
        long covered = 0, needed = 0, predictedTotal = 0, steps = 0;
        var top = new int[k];
        for (int b0 = 0; b0 + batchSize <= examples.Count; b0 += batchSize)
        {
            int maxLen = Enumerable.Range(b0, batchSize).Max(i => examples[i].TokenCount);
            for (int j = 0; j < maxLen; j++)
            {
                var truthUnion = new bool[le];
                var predUnion = new bool[le];
                for (int i = b0; i < b0 + batchSize; i++)
                {
                    if (j >= examples[i].TokenCount) continue;
                    var truth = examples[i].Sequence.Experts[examples[i].TokenStart + j];
                    for (int r = 0; r < truth.Length; r++) truthUnion[r / k * e + truth[r]] = true;
                    for (int layer = 0; layer < l; layer++)
                    {
                        TopK(scores[i].AsSpan(j * le + layer * e, e), top);
                        foreach (int t in top) predUnion[layer * e + t] = true;
                    }
                }
                for (int i = 0; i < le; i++)
                {
                    if (truthUnion[i]) { needed++; if (predUnion[i]) covered++; }
                    if (predUnion[i]) predictedTotal++;
                }
                steps++;
            }
        }
        return ((double)covered / Math.Max(1, needed), (double)predictedTotal / Math.Max(1, steps * l), (double)needed / Math.Max(1, steps * l));
    }

    static bool Contains(short[] route, int layer, int k, int expert)
    {
        for (int r = 0; r < k; r++) if (route[layer * k + r] == expert) return true;
        return false;
    }

    /// <summary>Indices of the <c>top.Length</c> highest scores (ties: lower index first).</summary>
    public static void TopK(ReadOnlySpan<float> scores, Span<int> top)
    {
        for (int r = 0; r < top.Length; r++)
        {
            int best = -1;
            for (int i = 0; i < scores.Length; i++)
            {
                bool taken = false;
                for (int q = 0; q < r; q++) if (top[q] == i) { taken = true; break; }
                if (!taken && (best < 0 || scores[i] > scores[best])) best = i;
            }
            top[r] = best;
        }
    }

    /// <summary>Prefill examples (prompt = whole sequence) and decode examples (first half prompt, second half generated).</summary>
    public static (List<PredictorExample> Prefill, List<PredictorExample> Decode) Examples(IEnumerable<TracedSequence> sequences, int maxLength)
    {
        var usable = sequences.Where(s => s.Length >= 4).ToList();
        return (usable.Select(s => PredictorExample.Prefill(s, maxLength)).ToList(),
                usable.Select(s => PredictorExample.Decode(s, s.Length / 2, maxLength)).ToList());
    }
}
