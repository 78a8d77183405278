using ExpertFlow.Model;
using ExpertFlow.Prediction;
using ExpertFlow.Scheduling;
using ExpertFlow.Tests.Prediction;
using Toolkit.Runtime;
using static TorchSharp.torch;

namespace ExpertFlow.Tests.Scheduling;

public class DualBatchGeneratorTests
{
    public DualBatchGeneratorTests() => LibTorch.EnsureLoaded();

    [Fact]
    public void Outputs_are_identical_with_and_without_scheduling_and_match_plain_generation()
    {
        manual_seed(11);
        using var demo = new TinyDemo();
        var random = new Random(5);
        var prompts = Enumerable.Range(0, 8).Select(i => Enumerable.Range(0, 3 + i % 4).Select(_ => random.Next(300)).ToArray()).ToArray();
        using var model = MoeModels.Load(demo.Folder);
        var plain = Generation.Generate(model, prompts, new GenerationOptions { MaxNewTokens = 6, StopTokens = [] }, TestContext.Current.CancellationToken);
        var inOrder = DualBatchGenerator.Generate(model, prompts, 6, scheduler: null);
        using var predictor = TinyDemo.Predictor();
        using var paths = new IncrementalPredictor(predictor);
        var rowPaths = new RowPathPredictor(paths);
        var scheduled = DualBatchGenerator.Generate(model, prompts, 6, rowPaths, overlap: true);
        var inline = DualBatchGenerator.Generate(model, prompts, 6, rowPaths, overlap: false);
        Assert.Equal(plain.OutputIds, inOrder.OutputIds);
        Assert.Equal(plain.OutputIds, scheduled.OutputIds);
        Assert.Equal(plain.OutputIds, inline.OutputIds);
        // The pipelined and the inline scheduler see the same predictions, so they make the same batches.
        Assert.Equal(inline.ExpertsPerBatchLayer, scheduled.ExpertsPerBatchLayer);
        Assert.InRange(scheduled.ExpertsPerBatchLayer, 2, 8);
        Assert.True(rowPaths.Seconds > 0);
        // Predictions without regrouping (the cache policy's forecasts only): arrival order, same ids.
        var arrival = DualBatchGenerator.Generate(model, prompts, 6, rowPaths, overlap: true, regroup: false);
        Assert.Equal(plain.OutputIds, arrival.OutputIds);
        Assert.Equal(inOrder.ExpertsPerBatchLayer, arrival.ExpertsPerBatchLayer);
    }

    [Fact]
    public void Single_row_batches_alternate_so_the_waiting_row_runs_next()
    {
        manual_seed(12);
        using var demo = new TinyDemo();
        using var model = MoeModels.Load(demo.Folder);
        using var predictor = TinyDemo.Predictor();
        var fed = new StepRows();
        model.Observers.Add(fed);
        foreach (bool overlap in new[] { false, true })
        {
            fed.Rows.Clear();
            using var paths = new IncrementalPredictor(predictor);
            DualBatchGenerator.Generate(model, [[5, 6, 7], [8, 9]], 8, new RowPathPredictor(paths), overlap);
            // prompts: row 0 then row 1; every decode step then feeds the row that waited during the step before
            Assert.Equal(Enumerable.Range(0, 2 * 8).Select(i => i % 2), fed.Rows);
        }
    }

    sealed class StepRows : IRoutingObserver
    {
        public List<int> Rows { get; } = [];
        public void OnStep(StepInfo step) => Rows.AddRange(Enumerable.Range(0, step.TokenIds.Length).Where(r => step.TokenIds[r].Length > 0));
        public void OnRouting(RoutingDecision decision) { }
    }
}
