namespace ExpertFlow.Prediction;

/// <summary>
/// The scores PLEC works with: one token's per-layer sigmoid probabilities scaled so that a layer's scores sum to the
/// router's top-k (the router picks exactly k experts per token, independent sigmoids need not sum to k), each capped at 1.
/// </summary>
public static class TopKNormalisation
{
    /// <summary>Writes the normalised scores of one layer's <paramref name="probabilities"/> into <paramref name="scores"/>.</summary>
    public static void Apply(ReadOnlySpan<float> probabilities, int topK, Span<double> scores)
    {
        double sum = 0;
        foreach (float p in probabilities) sum += p;
        double scale = sum > 0 ? topK / sum : 0;
        for (int e = 0; e < probabilities.Length; e++) scores[e] = Math.Min(1.0, probabilities[e] * scale);
    }
}
