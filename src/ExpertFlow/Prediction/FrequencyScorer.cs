using ExpertFlow.Tracing;

namespace ExpertFlow.Prediction;

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
