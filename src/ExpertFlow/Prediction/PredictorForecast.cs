using ExpertFlow.Model;
using ExpertFlow.Offloading.Policies;

namespace ExpertFlow.Prediction;

/// <summary>
/// The routing path predictor as the offloading engine's forecast (the PLEC policy's input): at the start of
/// every step, before the first MoE layer runs, it predicts from token ids alone the experts each layer
/// will need for the batch. The predictor runs incrementally (<see cref="IncrementalPredictor"/>: one decoder token per
/// sequence and step); a prediction the token scheduler already made for the same token is reused. Batch score of
/// (layer, expert): 1 - prod over the step's tokens of (1 - p_token), the probability that at least one token routes there.
/// </summary>
public sealed class PredictorForecast(IncrementalPredictor predictor) : IRoutingForecast
{
    public float[][]? Forecast(StepInfo step)
    {
        var feeds = new List<PredictorFeed>();
        for (int r = 0; r < step.TokenIds.Length; r++)
            if (step.TokenIds[r].Length > 0) feeds.Add(new PredictorFeed(step.SequenceIds[r], step.StartPositions[r], step.TokenIds[r]));
        if (feeds.Count == 0) return null;
        return Combine(predictor.Predict(feeds).SelectMany(tokens => tokens));
    }

    /// <summary>
    /// The next step's forecast: the rows idle in <paramref name="current"/> (with two batches in flight, the other batch)
    /// whose next token the token scheduler has already predicted. Null when none has.
    /// </summary>
    public float[][]? ForecastUpcoming(StepInfo current)
    {
        var waiting = new List<float[]>();
        for (int r = 0; r < current.TokenIds.Length; r++)
        {
            if (current.TokenIds[r].Length > 0 || current.StartPositions[r] == 0) continue;
            if (predictor.Known(current.SequenceIds[r], current.StartPositions[r]) is { } p) waiting.Add(p);
        }
        return waiting.Count == 0 ? null : Combine(waiting);
    }

    /// <summary>Batch scores from per-token probabilities [layer x expert].</summary>
    float[][] Combine(IEnumerable<float[]> tokenProbabilities)
    {
        int l = predictor.Config.NumLayers, experts = predictor.Config.NumExperts;
        var missAll = new double[l * experts];
        Array.Fill(missAll, 1.0);
        foreach (var p in tokenProbabilities) Accumulate(missAll, p, experts, predictor.Config.TopK);
        var result = new float[l][];
        for (int layer = 0; layer < l; layer++)
            result[layer] = Enumerable.Range(0, experts).Select(e => (float)(1 - missAll[layer * experts + e])).ToArray();
        return result;
    }

    /// <summary>
    /// Folds one token's predicted probabilities [layer x expert] into the batch's miss products. Per layer they are
    /// first scaled to sum to the router's top-k (each capped at 1): the router picks exactly k experts per token, while
    /// independent sigmoids need not sum to k, and the policy shares slots among layers by these sums.
    /// </summary>
    static void Accumulate(double[] missAll, ReadOnlySpan<float> tokenProbabilities, int experts, int topK)
    {
        for (int start = 0; start < tokenProbabilities.Length; start += experts)
        {
            var layer = tokenProbabilities.Slice(start, experts);
            double sum = 0;
            foreach (float p in layer) sum += p;
            double scale = sum > 0 ? topK / sum : 0;
            for (int e = 0; e < experts; e++) missAll[start + e] *= 1 - Math.Min(1.0, layer[e] * scale);
        }
    }
}
