namespace ExpertFlow.Prediction;

/// <summary>
/// A scorer that scores each list of examples once: a later call with the same list (the same object) gets the
/// first call's scores, so several evaluations of the predictor's held-out examples share one pass.
/// </summary>
public sealed class RememberingScorer(IPathScorer inner) : IPathScorer
{
    readonly Dictionary<object, IReadOnlyList<float[]>> remembered = new(ReferenceEqualityComparer.Instance);

    public string Name => inner.Name;

    public IReadOnlyList<float[]> Score(IReadOnlyList<PredictorExample> examples)
    {
        if (!remembered.TryGetValue(examples, out var scores)) remembered[examples] = scores = inner.Score(examples);
        return scores;
    }
}
