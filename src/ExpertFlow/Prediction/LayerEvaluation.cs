using ExpertFlow.Offloading.Policies;
using ExpertFlow.Tracing;
using Toolkit.Reporting;

namespace ExpertFlow.Prediction;

/// <summary>Computes <see cref="LayerMetrics"/> for every MoE layer from a scorer's probabilities.</summary>
public static class LayerEvaluation
{
    /// <param name="scores">Per example [TokenCount x L x E] probabilities (<see cref="IPathScorer.Score"/>).</param>
    /// <param name="examples">The examples scored, with their true routing.</param>
    /// <param name="header">The traces' shape (layers, experts, top-k).</param>
    /// <param name="mode">prefill or decode (recorded in the rows).</param>
    /// <param name="floor">The prefetch floor (PLEC's default unless given).</param>
    public static IReadOnlyList<LayerMetrics> Evaluate(IReadOnlyList<float[]> scores, IReadOnlyList<PredictorExample> examples, RoutingTraceHeader header,
        string mode, float floor = PredictivePolicy.DefaultPrefetchFloor)
    {
        int l = header.NumLayers, e = header.NumExperts, k = header.TopK, le = l * e;
        var hits = new long[l];
        var above = new Count[l];
        var floorRaw = new Count[l];
        var floorNormalised = new Count[l];
        var top = new int[k];
        var truth = new bool[e];
        var normalised = new double[e];
        long tokens = 0;
        for (int x = 0; x < examples.Count; x++)
        {
            var ex = examples[x];
            for (int j = 0; j < ex.TokenCount; j++)
            {
                var route = ex.Sequence.Experts[ex.TokenStart + j];
                tokens++;
                for (int layer = 0; layer < l; layer++)
                {
                    Array.Clear(truth);
                    for (int r = 0; r < k; r++) truth[route[layer * k + r]] = true;
                    var p = scores[x].AsSpan(j * le + layer * e, e);
                    PathEvaluation.TopK(p, top);
                    foreach (int t in top) if (truth[t]) hits[layer]++;
                    TopKNormalisation.Apply(p, k, normalised);
                    for (int i = 0; i < e; i++)
                    {
                        above[layer].Add(p[i] >= 0.5f, truth[i]);
                        floorRaw[layer].Add(p[i] >= floor, truth[i]);
                        floorNormalised[layer].Add(normalised[i] >= floor, truth[i]);
                    }
                }
            }
        }
        long needed = Math.Max(1, tokens * k);
        return Enumerable.Range(0, l).Select(layer => new LayerMetrics(mode, layer, tokens, (double)hits[layer] / needed,
            (double)above[layer].True / needed, above[layer].Precision, floorRaw[layer].Precision,
            (double)floorNormalised[layer].True / needed, floorNormalised[layer].Precision)).ToList();
    }

    /// <summary>Layers as rows, prefill then decode.</summary>
    public static MarkdownTable Table(IEnumerable<LayerMetrics> layers, float floor = PredictivePolicy.DefaultPrefetchFloor)
    {
        string f = floor.ToString("0.0#", System.Globalization.CultureInfo.InvariantCulture);
        var table = new MarkdownTable("mode", "layer", "tokens", "recall@k", "recall (p>=0.5)", "precision (p>=0.5)", $"precision (p>={f})",
            $"recall (normalised score>={f})", $"precision (normalised score>={f})");
        foreach (var m in layers)
            table.Add(m.Mode, m.Layer, m.Tokens, Pct(m.RecallAtK), Pct(m.ThresholdRecall), Pct(m.ThresholdPrecision), Pct(m.FloorPrecision),
                Pct(m.NormalisedFloorRecall), Pct(m.NormalisedFloorPrecision));
        return table;
    }

    static string Pct(double v) => (100 * v).ToString("F1", System.Globalization.CultureInfo.InvariantCulture) + "%";

    /// <summary>A predicted set: its size and how many of its members were activated.</summary>
    struct Count
    {
        public long Size, True;

        public void Add(bool chosen, bool activated)
        {
            if (!chosen) return;
            Size++;
            if (activated) True++;
        }

        public readonly double Precision => (double)True / Math.Max(1, Size);
    }
}
