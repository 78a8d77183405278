using ExpertFlow.Prediction;
using ExpertFlow.Tracing;
using Toolkit.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace ExpertFlow.Tests.Prediction;

public class RoutingPathPredictorTests
{
    public RoutingPathPredictorTests() => LibTorch.EnsureLoaded();

    // Synthetic routing: layer 0 depends on the token, layer 1 on the token and its predecessor, so the
    // previous-token and token-table heuristics are imperfect and context must be learned.
    static List<TracedSequence> SyntheticTraces(int count, int seed)
    {
        var random = new Random(seed);
        var result = new List<TracedSequence>();
        for (int s = 0; s < count; s++)
        {
            int n = 8 + random.Next(12);
            var ids = Enumerable.Range(0, n).Select(_ => random.Next(20)).ToArray();
            var experts = new short[n][];
            for (int p = 0; p < n; p++)
            {
                int prev = p > 0 ? ids[p - 1] : 0;
                int e0 = ids[p] % 4, e1 = (ids[p] + prev) % 4;
                experts[p] = [(short)e0, (short)((e0 + 1) % 4), (short)e1, (short)((e1 + 2) % 4)];
            }
            result.Add(new TracedSequence(s, ids, experts));
        }
        return result;
    }

    [Fact]
    public void Output_shape_is_batch_by_sequence_by_layers_by_experts()
    {
        var header = new RoutingTraceHeader(2, 4, 2);
        using var predictor = new RoutingPathPredictor(new PredictorConfig { VocabSize = 20, NumLayers = 2, NumExperts = 4, TopK = 2, ModelDim = 32, Heads = 2, FeedForwardDim = 64, MaxPositions = 64 });
        var traces = SyntheticTraces(3, 0);
        using var batch = PredictorBatch.Build([PredictorExample.Prefill(traces[0], 16), PredictorExample.Decode(traces[1], 3, 16)], header, CPU);
        using var logits = predictor.Forward(batch.PromptIds, batch.PromptLengths, batch.TokenIds, batch.TokenStart);
        Assert.Equal([2, batch.TokenIds.shape[1], 2, 4], logits.shape);
        // Padding is masked: the loss ignores logits where mask == 0.
        using var noise = logits + batch.Mask.logical_not().unsqueeze(-1).unsqueeze(-1) * 100;
        Assert.Equal(PredictorTrainer.MaskedBce(logits, batch.Targets, batch.Mask).item<float>(), PredictorTrainer.MaskedBce(noise, batch.Targets, batch.Mask).item<float>(), 5);
    }

    [Fact]
    public void Learns_context_dependent_routing_beyond_heuristics()
    {
        manual_seed(0);
        var header = new RoutingTraceHeader(2, 4, 2);
        var train = SyntheticTraces(400, 1);
        var heldOut = SyntheticTraces(64, 2);
        using var predictor = new RoutingPathPredictor(new PredictorConfig { VocabSize = 20, NumLayers = 2, NumExperts = 4, TopK = 2, ModelDim = 64, Heads = 4, FeedForwardDim = 128, MaxPositions = 64 });
        PredictorTrainer.Train(predictor, train, header, new PredictorTrainingOptions { Steps = 250, BatchSize = 32, MaxLength = 32, LearningRate = 3e-3, WarmupSteps = 20 }, cancellation: TestContext.Current.CancellationToken);
        var metrics = PredictorEvaluation.Evaluate(predictor, header, train, heldOut, 32);
        double Recall(string method, string mode) => metrics.Single(m => m.Method.StartsWith(method) && m.Mode == mode).Recall;
        Assert.True(Recall("predictor", "decode") > 0.9, $"predictor recall {Recall("predictor", "decode"):P1}");
        Assert.True(Recall("predictor", "decode") > Recall("token-id", "decode") + 0.05);
        Assert.True(Recall("predictor", "decode") > Recall("previous", "decode") + 0.05);
        Assert.InRange(Recall("most frequent", "decode"), 0.3, 0.8);
    }
}
