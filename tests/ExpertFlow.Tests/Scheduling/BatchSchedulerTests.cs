using ExpertFlow.Model;
using ExpertFlow.Prediction;
using ExpertFlow.Scheduling;
using ExpertFlow.Tests.Model;
using ExpertFlow.Tests.Prediction;
using static TorchSharp.torch;

namespace ExpertFlow.Tests.Scheduling;

/// <summary>
/// Continuous batching: sequences join and leave between steps, rows are reused, and each sequence's tokens are the ones a
/// lone generation of its prompt gives (greedy and sampled, with and without the token scheduler's two batches).
/// </summary>
public class BatchSchedulerTests
{
    static int[][] Prompts(int count, int vocabulary)
    {
        var random = new Random(4);
        return Enumerable.Range(0, count).Select(i => Enumerable.Range(0, 3 + random.Next(9)).Select(_ => random.Next(vocabulary)).ToArray()).ToArray();
    }

    static int[] Alone(IMoeModel model, int[] prompt, SamplingOptions sampling, int maxNew, int[] stops) =>
        Generation.Generate(model, [prompt], new GenerationOptions { MaxNewTokens = maxNew, Sampling = sampling, StopTokens = stops }).OutputIds[0];

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task Each_sequence_gets_the_tokens_it_gets_alone(bool sample, bool twoBatches)
    {
        Fixtures.Cpu();
        manual_seed(3);
        using var demo = new TinyDemo();
        using var predictor = TinyDemo.Predictor();
        using var model = MoeModels.Load(demo.Folder);
        var prompts = Prompts(9, TinyDemo.Vocabulary);
        var sampling = sample ? new SamplingOptions { Greedy = false, Temperature = 0.9, TopP = 0.95, Seed = 11 } : new SamplingOptions();
        int[] stops = [7, 8];
        var expected = prompts.Select((p, i) => Alone(model, p, sampling with { Seed = 11 + i }, 10, stops)).ToArray();

        // 4 rows for 9 sequences: they join as rows free up
        using var paths = new IncrementalPredictor(predictor);
        using var scheduler = new BatchScheduler(model, 4, 32, twoBatches ? new RowPathPredictor(paths) : null);
        var seen = new List<int>[prompts.Length];
        var tasks = prompts.Select((p, i) =>
        {
            seen[i] = [];
            return scheduler.Enqueue(new SequenceRequest { Prompt = p, MaxNewTokens = 10, Sampling = sampling with { Seed = 11 + i }, StopTokens = stops, OnToken = seen[i].Add });
        }).ToArray();
        scheduler.RunUntilIdle();
        for (int i = 0; i < prompts.Length; i++)
        {
            var result = await tasks[i];
            Assert.Equal(expected[i], result.Tokens);
            Assert.Equal(result.Tokens, seen[i]);
            Assert.Equal(result.Tokens.Length < 10 ? FinishReason.Stop : FinishReason.Length, result.Reason);
        }
        Assert.False(scheduler.Busy);
        Assert.Equal(0, scheduler.RunningCount);
        if (twoBatches) Assert.True(scheduler.SchedulerSeconds > 0, "the token scheduler should have split the running sequences");
    }

    [Fact]
    public async Task Cancelled_and_oversized_sequences_leave_cleanly()
    {
        Fixtures.Cpu();
        using var model = MoeModels.Load(Fixtures.Folder("mixtral"));
        using var scheduler = new BatchScheduler(model, 2, 16);
        var oversized = Record.Exception(() => { _ = scheduler.Enqueue(new SequenceRequest { Prompt = new int[10], MaxNewTokens = 10 }); });
        Assert.IsType<ArgumentException>(oversized);
        using var cancel = new CancellationTokenSource();
        var doomed = scheduler.Enqueue(new SequenceRequest { Prompt = [1, 2, 3], MaxNewTokens = 12, StopTokens = [], Cancellation = cancel.Token });
        var kept = scheduler.Enqueue(new SequenceRequest { Prompt = [4, 5], MaxNewTokens = 6, StopTokens = [] });
        scheduler.Step();
        cancel.Cancel();
        scheduler.RunUntilIdle();
        Assert.All(model.CacheLengths, l => Assert.Equal(0, l)); // every row is free again
        Assert.Equal(FinishReason.Cancelled, (await doomed).Reason);
        var keptResult = await kept;
        Assert.Equal(6, keptResult.Tokens.Length);
        Assert.Equal(Alone(model, [4, 5], new SamplingOptions(), 6, []), keptResult.Tokens);
    }
}
