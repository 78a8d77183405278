namespace ExpertFlow.Prediction;

/// <summary>Scores every (layer, expert) for the processed tokens of examples: result[i] is [TokenCount x L x E], higher = more likely.</summary>
public interface IPathScorer
{
    string Name { get; }
    IReadOnlyList<float[]> Score(IReadOnlyList<PredictorExample> examples);
}
