using ExpertFlow.Tracing;
using TorchSharp;
using static TorchSharp.torch;

namespace ExpertFlow.Prediction;

/// <summary>Scores every (layer, expert) for the processed tokens of examples: result[i] is [TokenCount x L x E], higher = more likely.</summary>
public interface IPathScorer
{
    string Name { get; }
    IReadOnlyList<float[]> Score(IReadOnlyList<PredictorExample> examples);
}

/// <summary>The trained routing path predictor (sigmoid probabilities).</summary>
public sealed class PredictorScorer(RoutingPathPredictor predictor, RoutingTraceHeader header, int batchSize = 64) : IPathScorer
{
    public string Name => "predictor (RPP)";

    public IReadOnlyList<float[]> Score(IReadOnlyList<PredictorExample> examples)
    {
        var result = new List<float[]>(examples.Count);
        var device = predictor.parameters().First().device;
        using var noGrad = no_grad();
        int le = header.NumLayers * header.NumExperts;
        foreach (var chunk in examples.Chunk(batchSize))
        {
            using var scope = NewDisposeScope();
            using var batch = PredictorBatch.Build(chunk, header, device);
            var probs = predictor.Forward(batch.PromptIds, batch.PromptLengths, batch.TokenIds, batch.TokenStart).sigmoid().cpu();
            long s = probs.shape[1];
            var all = probs.data<float>().ToArray();
            for (int i = 0; i < chunk.Length; i++)
                result.Add(all.AsSpan((int)(i * s * le), chunk[i].TokenCount * le).ToArray());
        }
        return result;
    }
}

/// <summary>Heuristic: the most frequent experts of each layer in the training traces, the same for every token.</summary>
public sealed class FrequencyScorer : IPathScorer
{
    readonly float[] perLayer;
    readonly int le;

    public FrequencyScorer(IEnumerable<TracedSequence> training, RoutingTraceHeader header)
    {
        le = header.NumLayers * header.NumExperts;
        perLayer = new float[le];
        foreach (var s in training)
            foreach (var route in s.Experts)
                for (int i = 0; i < route.Length; i++) perLayer[i / header.TopK * header.NumExperts + route[i]]++;
    }

    public string Name => "most frequent per layer";

    public IReadOnlyList<float[]> Score(IReadOnlyList<PredictorExample> examples) =>
        examples.Select(ex => Enumerable.Range(0, ex.TokenCount).SelectMany(_ => perLayer).ToArray()).ToList();
}

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
