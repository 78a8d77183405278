using ExpertFlow.Prediction;

namespace ExpertFlow.Tests.Prediction;

/// <summary>A scorer whose scores for token j of an example are given by a function.</summary>
sealed class FixedScorer(Func<PredictorExample, int, float[]> score) : IPathScorer
{
    public string Name => "fixed";

    public IReadOnlyList<float[]> Score(IReadOnlyList<PredictorExample> examples) =>
        examples.Select(ex => Enumerable.Range(0, ex.TokenCount).SelectMany(j => score(ex, j)).ToArray()).ToList();
}
