using ExpertFlow.Tracing;

namespace ExpertFlow.Prediction;

/// <summary>Heuristic: each token takes the path its predecessor took (the first token: layer frequencies).</summary>
public sealed class PreviousTokenScorer(FrequencyScorer fallback, RoutingTraceHeader header) : IPathScorer
{
    public string Name => "previous token's path";

    public IReadOnlyList<float[]> Score(IReadOnlyList<PredictorExample> examples)
    {
        var baseScores = fallback.Score(examples);
        int le = header.NumLayers * header.NumExperts;
        var result = new List<float[]>();
        for (int x = 0; x < examples.Count; x++)
        {
            var ex = examples[x];
            var scores = baseScores[x];
            for (int j = 0; j < ex.TokenCount; j++)
            {
                int pos = ex.TokenStart + j;
                if (pos == 0) continue;
                var span = scores.AsSpan(j * le, le);
                span.Clear();
                var prev = ex.Sequence.Experts[pos - 1];
                for (int i = 0; i < prev.Length; i++) span[i / header.TopK * header.NumExperts + prev[i]] = 1 + header.TopK - i % header.TopK;
            }
            result.Add(scores);
        }
        return result;
    }
}
