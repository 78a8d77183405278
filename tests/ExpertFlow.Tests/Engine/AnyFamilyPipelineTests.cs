using ExpertFlow.Engine;
using ExpertFlow.Evaluation;
using ExpertFlow.Model;
using ExpertFlow.Offloading;
using ExpertFlow.Offloading.Policies;
using ExpertFlow.Prediction;
using ExpertFlow.Tests.Model;
using ExpertFlow.Tracing;
using Microsoft.Extensions.Logging.Abstractions;
using static TorchSharp.torch;

namespace ExpertFlow.Tests.Engine;

/// <summary>
/// The whole predictor pipeline on families other than Mixtral, on the CPU: routing traced through the runtime's own
/// forward pass, a predictor trained and recorded for the model, the cache evaluation, and generation with
/// <c>--policy expertflow</c> through the engine (outputs equal to all-resident generation).
/// </summary>
public sealed class AnyFamilyPipelineTests : IDisposable
{
    readonly string work = Path.Combine(Path.GetTempPath(), $"any-family-{Guid.NewGuid():N}");

    /// <param name="family">A fixture with dense layers between its MoE layers, so traces count MoE layers only.</param>
    [Theory]
    [InlineData("qwen2_moe")]
    [InlineData("deepseek")]
    public void Trace_train_evaluate_and_generate_with_expertflow(string family)
    {
        Fixtures.Cpu();
        Assert.SkipUnless(Fixtures.Exists(family), $"fixture {family} not present");
        manual_seed(5);
        string model = Path.Combine(work, family);
        Directory.CreateDirectory(model);
        foreach (var f in Directory.GetFiles(Fixtures.Folder(family))) File.Copy(f, Path.Combine(model, Path.GetFileName(f)));
        string corpus = Path.Combine(work, "corpus.txt");
        File.WriteAllLines(corpus, Sentences(300));
        var config = MoeConfig.Load(model);

        var built = PredictorBuilder.Build(new PredictorBuildOptions
        {
            ModelFolder = model, Corpus = corpus, TraceEntries = 60, GeneratedEntries = 8, MaxLength = 32, Dim = 32,
            Training = new PredictorTrainingOptions { Steps = 20, BatchSize = 8 },
        });
        using (built.Predictor)
        {
            Assert.Equal(new RoutingTraceHeader(config.MoeLayerCount, config.NumExperts, config.TopK), built.Traces.Header);
            Assert.True(config.MoeLayerCount < config.NumLayers, "the fixture should mix dense and MoE layers");
            Assert.NotEmpty(built.Traces.HeldOut);
            Assert.Contains(built.Traces.Train, t => t.SequenceId >= 2_000_000); // greedy continuations were traced
            Assert.All(built.Traces.Train.SelectMany(t => t.Experts).SelectMany(e => e), e => Assert.InRange(e, (short)0, (short)(config.NumExperts - 1)));
        }
        string predictor = Path.Combine(model, "predictor");
        Assert.True(File.Exists(Path.Combine(predictor, TraceSet.HeldOutFile)));
        var stored = PredictorConfig.FromJson(File.ReadAllText(Path.Combine(predictor, PredictorTrainer.ConfigFile)), "test");
        Assert.Equal(ModelIdentity.Of(config), stored.TrainedFor);

        // The traces are the runtime's routing: an observer on a plain prefill of the first held-out text sees the same experts.
        var first = TraceSet.Load(predictor).HeldOut[0];
        using (var runtime = MoeModels.Load(model))
        {
            var observed = ModelTracer.Trace(runtime, [first.TokenIds], maxLength: 32, firstSequenceId: first.SequenceId);
            Assert.Equal(first.Experts, observed[0].Experts);
        }

        var results = CacheEvaluation.Run(new CacheEvaluationOptions
        {
            ModelFolder = model, Policies = ["lru", "expertflow", "expertflow-oracle"], CacheShares = [0.5], Batches = [1], NewTokens = 4, Runs = 1,
            OutputFolder = Path.Combine(work, "cache-" + family), Plots = false,
        }, NullLogger.Instance);
        Assert.All(results, r => Assert.Null(r.Error));
        Assert.All(results, r => Assert.True(r.SameIdsAsResident, $"{r.Case.Policy}: ids differ from all-resident"));
        Assert.True(results.Single(r => r.Case.Policy == "expertflow").PredictorSeconds > 0, "the predictor must have run");
        Assert.True(File.Exists(Path.Combine(work, "cache-" + family, "report.md")));

        var prompt = first.TokenIds[..24];
        var generation = new GenerationOptions { MaxNewTokens = 6, StopTokens = [] };
        int[] resident;
        using (var engine = InferenceEngine.Load(new EngineOptions { ModelFolder = model }, Workload.For(1, prompt.Length, 6)))
            resident = engine.Generate([prompt], generation, TestContext.Current.CancellationToken).OutputIds[0];
        var offload = new OffloadOptions(PolicySpec.Parse("expertflow"), MemoryBudget.ExpertSlots(4));
        using (var engine = InferenceEngine.Load(new EngineOptions { ModelFolder = model, Offload = offload }, Workload.For(1, prompt.Length, 6)))
        {
            Assert.Equal(resident, engine.Generate([prompt], generation, TestContext.Current.CancellationToken).OutputIds[0]);
            var stats = engine.FinishOffload()!;
            Assert.Equal("expertflow", stats.Policy);
            Assert.Equal(4, stats.Plan.Slots);
            Assert.True(stats.PrefetchTransfers > 0, "PLEC prefetches predicted experts");
        }
    }

    [Fact]
    public void A_predictor_of_another_model_is_refused_by_name()
    {
        Fixtures.Cpu();
        Assert.SkipUnless(Fixtures.Exists("olmoe") && Fixtures.Exists("qwen2_moe"), "fixtures not present");
        string predictor = Path.Combine(work, "olmoe-predictor");
        using (var p = new RoutingPathPredictor(new PredictorConfig { VocabSize = 320, NumLayers = 2, NumExperts = 8, TopK = 2, ModelDim = 32, Heads = 1, FeedForwardDim = 64, MaxPositions = 64,
            TrainedFor = ModelIdentity.Of(MoeConfig.Load(Fixtures.Folder("olmoe"))) }))
            PredictorTrainer.Save(p, predictor);
        var e = Assert.Throws<InvalidDataException>(() => InferenceEngine.Load(new EngineOptions
        {
            ModelFolder = Fixtures.Folder("qwen2_moe"), PredictorFolder = predictor, Offload = new OffloadOptions(PolicySpec.Parse("expertflow"), MemoryBudget.ExpertSlots(4)),
        }, Workload.For(1, 4, 4)));
        Assert.Contains("olmoe", e.Message);
        Assert.Contains("train-predictor", e.Message);
    }

    /// <summary>Deterministic sentences of common words (long enough for 24-token prompts).</summary>
    static IEnumerable<string> Sentences(int count)
    {
        string[] words = ["the", "horse", "river", "stone", "light", "of", "a", "small", "green", "field", "runs", "under", "bright", "old", "tree", "water", "and", "slowly", "grows", "near"];
        var random = new Random(11);
        for (int i = 0; i < count; i++)
            yield return string.Join(' ', Enumerable.Range(0, 14 + random.Next(8)).Select(_ => words[random.Next(words.Length)])) + ".";
    }

    public void Dispose()
    {
        try { Directory.Delete(work, recursive: true); } catch (IOException) { }
    }
}
