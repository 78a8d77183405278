using ExpertFlow.Tracing;

namespace ExpertFlow.Prediction;

/// <summary>Heuristic: per token id, the experts it was routed to most often in training (context ignored).</summary>
public sealed class TokenTableScorer : IPathScorer
{
    readonly Dictionary<int, float[]> table = [];
    readonly FrequencyScorer fallback;
    readonly int le;

    public TokenTableScorer(IEnumerable<TracedSequence> training, RoutingTraceHeader header, FrequencyScorer fallback)
    {
        this.fallback = fallback;
        le = header.NumLayers * header.NumExperts;
        foreach (var s in training)
            for (int p = 0; p < s.Length; p++)
            {
                if (!table.TryGetValue(s.TokenIds[p], out var row)) table[s.TokenIds[p]] = row = new float[le];
                var route = s.Experts[p];
                for (int i = 0; i < route.Length; i++) row[i / header.TopK * header.NumExperts + route[i]]++;
            }
    }

    public string Name => "token-id table";

    public IReadOnlyList<float[]> Score(IReadOnlyList<PredictorExample> examples)
    {
        var baseScores = fallback.Score(examples);
        for (int x = 0; x < examples.Count; x++)
            for (int j = 0; j < examples[x].TokenCount; j++)
                if (table.TryGetValue(examples[x].Sequence.TokenIds[examples[x].TokenStart + j], out var row))
                    row.CopyTo(baseScores[x].AsSpan(j * le, le));
        return baseScores;
    }
}
