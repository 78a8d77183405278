using ExpertFlow.Prediction;
using ExpertFlow.Tracing;

namespace ExpertFlow.Tests.Prediction;

public class LayerEvaluationTests
{
    [Fact]
    public void Per_layer_metrics_match_hand_counts()
    {
        var header = new RoutingTraceHeader(2, 4, 2);
        // token 0: layer 0 {0, 1}, layer 1 {2, 3}; token 1: layer 0 {2, 3}, layer 1 {0, 1}
        var seq = new TracedSequence(0, [1, 2], [[0, 1, 2, 3], [2, 3, 0, 1]]);
        float[][] scores =
        [
            [0.9f, 0.1f, 0.8f, 0.2f, /* layer 1 */ 0.4f, 0f, 0.6f, 0.2f],
            [0.1f, 0.1f, 0.9f, 0.7f, /* layer 1 */ 0.35f, 0.05f, 0.05f, 0.05f],
        ];
        var examples = new[] { PredictorExample.Prefill(seq, 8) };
        var m = LayerEvaluation.Evaluate([scores[0].Concat(scores[1]).ToArray()], examples, header, "prefill", floor: 0.3f);
        // layer 0: top-2 {0,2} (1 hit), {2,3} (2 hits); p>=0.5 and p>=0.3 the same sets; normalisation leaves them (sums 2.0, 1.8 -> {2,3})
        Assert.Equal(Round(new LayerMetrics("prefill", 0, 2, 3 / 4.0, 3 / 4.0, 3 / 4.0, 3 / 4.0, 3 / 4.0, 3 / 4.0)), Round(m[0]));
        // layer 1: top-2 {2,0} (1 hit), {0,1} (2 hits, tie broken by index); p>=0.5: {2} (true), {} ;
        // p>=0.3: {0,2} (1 true), {0} (1 true); normalised x 2/1.2 -> [.67, 0, 1, .33]: {0,2,3} (2 true), x 4 -> [1, .2, .2, .2]: {0} (1 true)
        Assert.Equal(Round(new LayerMetrics("prefill", 1, 2, 3 / 4.0, 1 / 4.0, 1.0, 2 / 3.0, 3 / 4.0, 3 / 4.0)), Round(m[1]));
    }

    [Fact]
    public void Per_layer_metrics_match_a_brute_force_reference_and_average_to_the_overall_recall()
    {
        var random = new Random(7);
        var header = new RoutingTraceHeader(3, 6, 2);
        var sequences = Enumerable.Range(0, 12).Select(s =>
        {
            int n = 4 + random.Next(10);
            var experts = Enumerable.Range(0, n).Select(_ => Enumerable.Range(0, 3).SelectMany(_ =>
                Enumerable.Range(0, 6).OrderBy(_ => random.Next()).Take(2).Select(e => (short)e)).ToArray()).ToArray();
            return new TracedSequence(s, Enumerable.Range(0, n).ToArray(), experts);
        }).ToList();
        // scores rounded to tenths: exact ties and values on the thresholds occur
        var scorer = new FixedScorer((ex, j) => Enumerable.Range(0, 18).Select(_ => random.Next(11) / 10f).ToArray());
        var (_, decode) = PathEvaluation.Examples(sequences, 64);
        var scores = scorer.Score(decode);
        var layers = LayerEvaluation.Evaluate(scores, decode, header, "decode", floor: 0.3f);
        for (int layer = 0; layer < 3; layer++)
            Assert.Equal(Round(Reference(scores, decode, layer, 0.3f)), Round(layers[layer]));
        var overall = PathEvaluation.Evaluate(new FixedScorer((ex, j) => scores[decode.IndexOf(ex)].AsSpan(j * 18, 18).ToArray()), decode, header, "decode", probabilities: true);
        Assert.Equal(overall.Recall, layers.Average(l => l.RecallAtK), 9);
        Assert.Equal(overall.ThresholdRecall, layers.Average(l => l.ThresholdRecall), 9);
    }

    /// <summary>The metrics of one layer by sets: top-k by a stable sort, thresholded sets by filters.</summary>
    static LayerMetrics Reference(IReadOnlyList<float[]> scores, IReadOnlyList<PredictorExample> examples, int layer, float floor)
    {
        long tokens = 0, hits = 0, half = 0, halfTrue = 0, raw = 0, rawTrue = 0, norm = 0, normTrue = 0;
        for (int x = 0; x < examples.Count; x++)
            for (int j = 0; j < examples[x].TokenCount; j++)
            {
                tokens++;
                var p = scores[x].Skip(j * 18 + layer * 6).Take(6).ToArray();
                var truth = examples[x].Sequence.Experts[examples[x].TokenStart + j].Skip(layer * 2).Take(2).Select(e => (int)e).ToHashSet();
                hits += Enumerable.Range(0, 6).OrderByDescending(e => p[e]).Take(2).Count(truth.Contains);
                double sum = p.Sum(v => (double)v);
                var q = p.Select(v => sum > 0 ? Math.Min(1, v * (2 / sum)) : 0).ToArray();
                var setHalf = Enumerable.Range(0, 6).Where(e => p[e] >= 0.5f).ToList();
                var setRaw = Enumerable.Range(0, 6).Where(e => p[e] >= floor).ToList();
                var setNorm = Enumerable.Range(0, 6).Where(e => q[e] >= floor).ToList();
                (half, halfTrue) = (half + setHalf.Count, halfTrue + setHalf.Count(truth.Contains));
                (raw, rawTrue) = (raw + setRaw.Count, rawTrue + setRaw.Count(truth.Contains));
                (norm, normTrue) = (norm + setNorm.Count, normTrue + setNorm.Count(truth.Contains));
            }
        double needed = 2.0 * tokens;
        return new LayerMetrics("decode", layer, tokens, hits / needed, halfTrue / needed, (double)halfTrue / half, (double)rawTrue / raw,
            normTrue / needed, (double)normTrue / norm);
    }

    static LayerMetrics Round(LayerMetrics m) => m with
    {
        RecallAtK = Math.Round(m.RecallAtK, 9), ThresholdRecall = Math.Round(m.ThresholdRecall, 9), ThresholdPrecision = Math.Round(m.ThresholdPrecision, 9),
        FloorPrecision = Math.Round(m.FloorPrecision, 9), NormalisedFloorRecall = Math.Round(m.NormalisedFloorRecall, 9), NormalisedFloorPrecision = Math.Round(m.NormalisedFloorPrecision, 9),
    };
}
