using ExpertFlow.Tracing;
using static TorchSharp.torch;

namespace ExpertFlow.Prediction;

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
