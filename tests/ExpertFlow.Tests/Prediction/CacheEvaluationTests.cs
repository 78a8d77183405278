using ExpertFlow.Evaluation;
using ExpertFlow.Model;
using ExpertFlow.Prediction;
using Microsoft.Extensions.Logging.Abstractions;
using Toolkit.Runtime;
using static TorchSharp.torch;

namespace ExpertFlow.Tests.Prediction;

public class CacheEvaluationTests
{
    public CacheEvaluationTests() => LibTorch.EnsureLoaded();

    [Fact]
    public void Predictive_policies_through_the_offloading_engine_keep_outputs_identical()
    {
        manual_seed(21);
        using var demo = new TinyDemo();
        using var predictor = TinyDemo.Predictor();
        var random = new Random(3);
        var prompts = Enumerable.Range(0, 8).Select(_ => Enumerable.Range(0, 6).Select(_ => random.Next(300)).ToArray()).ToList();
        var eval = new CacheEvaluation(demo.Folder, predictor, CPU, NullLogger.Instance) { NewTokens = 4, PromptTokens = 6, Runs = 1 };
        var results = eval.Run([new CacheCase("lru", 0.25, 2), new CacheCase("expertflow-no-ts", 0.25, 2), new CacheCase("expertflow", 0.25, 2),
            new CacheCase("expertflow-oracle", 0.25, 2), new CacheCase("expertflow-oracle", 0.5, 1)], prompts);
        Assert.All(results, r => Assert.Null(r.Error));
        Assert.All(results, r => Assert.True(r.SameIdsAsResident, $"{r.Case.Policy}: ids differ from all-resident"));
        Assert.All(results.Take(4), r => Assert.Equal(4, r.Slots));
        Assert.All(results, r => Assert.InRange(r.HitRatio, 0, 1));
        Assert.True(results[1].PredictorSeconds > 0 && results[2].PredictorSeconds > 0, "the predictor must have run");
        Assert.True(results[1].PrefetchTransfers > 0, "PLEC prefetches predicted experts");
        // The oracle (the all-resident run's true routing) with room for both batches' paths (2 layers x 2 experts
        // each, 8 slots) never misses in a decode step (the 6-token prompt steps need more than the slots hold).
        var oracle = results[4];
        Assert.Equal(8, oracle.Slots);
        Assert.Equal(1.0, oracle.DecodeHitRatio, 6);
        Assert.True(oracle.HitRatio < 1, "the prompt steps miss");
        Assert.Equal(0, oracle.PredictorSeconds);
    }
}
