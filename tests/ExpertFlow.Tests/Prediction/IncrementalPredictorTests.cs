using ExpertFlow.Model;
using ExpertFlow.Prediction;
using ExpertFlow.Scheduling;
using Toolkit.Runtime;
using static TorchSharp.torch;

namespace ExpertFlow.Tests.Prediction;

/// <summary>
/// The incremental predictor against the predictor's full forward pass (prompt encoded, whole decoder history decoded again):
/// the same probabilities for every token, whatever the batching, sharing, pool recycling or window overflow.
/// </summary>
public class IncrementalPredictorTests
{
    const int Layers = 3, Experts = 6;

    public IncrementalPredictorTests() => LibTorch.EnsureLoaded();

    static RoutingPathPredictor NewPredictor(int seed)
    {
        manual_seed(seed);
        var p = new RoutingPathPredictor(new PredictorConfig { VocabSize = 50, NumLayers = Layers, NumExperts = Experts, TopK = 2, ModelDim = 32, Heads = 2, FeedForwardDim = 64, MaxPositions = 64 });
        p.eval();
        return p;
    }

    /// <summary>The full pass: prompt (first <paramref name="window"/> tokens) encoded, <paramref name="decoded"/> decoded from <paramref name="start"/>; every token's probabilities.</summary>
    static float[][] Full(RoutingPathPredictor predictor, int[] prompt, int[] decoded, int start, int window = 64)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var enc = prompt.Take(window).Select(t => (long)t).ToArray();
        var probs = predictor.Forward(tensor(enc, [1, enc.Length]), tensor(new long[] { enc.Length }, [1]),
            tensor(decoded.Select(t => (long)t).ToArray(), [1, decoded.Length]), tensor(new long[] { start }, [1])).sigmoid().data<float>().ToArray();
        int le = Layers * Experts;
        return Enumerable.Range(0, decoded.Length).Select(t => probs.AsSpan(t * le, le).ToArray()).ToArray();
    }

    static void Same(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 1e-5);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Batched_decode_steps_equal_the_full_pass_over_each_history(bool hostSteps)
    {
        using var predictor = NewPredictor(5);
        using var paths = new IncrementalPredictor(predictor, hostSteps: hostSteps);
        int[][] prompts = [[3, 4, 5, 6], [7, 8, 9, 10, 11], [12]];
        var prefill = paths.Predict(prompts.Select((p, i) => new PredictorFeed(i, 0, p)).ToArray());
        for (int i = 0; i < prompts.Length; i++)
        {
            var expected = Full(predictor, prompts[i], prompts[i], 0);
            Assert.Equal(expected.Length, prefill[i].Length);
            for (int t = 0; t < expected.Length; t++) Same(expected[t], prefill[i][t]);
        }
        var random = new Random(1);
        var generated = prompts.Select(_ => new List<int>()).ToArray();
        for (int step = 0; step < 12; step++)
        {
            // a varying subset of the sequences each step (two batches in flight)
            var rows = Enumerable.Range(0, 3).Where(r => (step + r) % 3 != 0 || step % 4 == 0).ToArray();
            foreach (int r in rows) generated[r].Add(random.Next(50));
            long passes = paths.Passes;
            var got = paths.Predict(rows.Select(r => new PredictorFeed(r, prompts[r].Length + generated[r].Count - 1, [generated[r][^1]])).ToArray());
            Assert.Equal(passes + 1, paths.Passes); // one batched pass for all of them
            for (int i = 0; i < rows.Length; i++)
                Same(Full(predictor, prompts[rows[i]], generated[rows[i]].ToArray(), prompts[rows[i]].Length)[^1], got[i][0]);
        }
    }

    [Fact]
    public void Forecast_reuses_the_schedulers_predictions_and_knows_the_waiting_rows_next_step()
    {
        using var predictor = NewPredictor(6);
        using var paths = new IncrementalPredictor(predictor);
        var forecast = new PredictorForecast(paths);
        var scheduler = new RowPathPredictor(paths);
        int[][] prompts = [[3, 4, 5, 6], [7, 8, 9, 10, 11]];
        forecast.Forecast(new StepInfo(0, true, [0, 1], [0, 0], prompts));
        var generated = new List<int>[] { [], [] };
        int[][] decodeTokens = [[12, 13], [14, 15], [16, 17]];
        for (int step = 0; step < decodeTokens.Length; step++)
        {
            for (int r = 0; r < 2; r++) generated[r].Add(decodeTokens[step][r]);
            scheduler.Predict(prompts, generated);
            long passes = paths.Passes;
            for (int r = 0; r < 2; r++)
            {
                int[][] tokens = r == 0 ? [[decodeTokens[step][0]], []] : [[], [decodeTokens[step][1]]];
                var info = new StepInfo(1 + 2 * step + r, false, [0, 1], [prompts[0].Length + step + r, prompts[1].Length + step], tokens);
                var expectedProbs = Full(predictor, prompts[r], generated[r].ToArray(), prompts[r].Length)[^1];
                // while row 0 runs, row 1's coming step is already known from the scheduler's predictions
                if (r == 0) Same(Scores(expectedProbs: Full(predictor, prompts[1], generated[1].ToArray(), prompts[1].Length)[^1]), Flat(forecast.ForecastUpcoming(info)!));
                Same(Scores(expectedProbs), Flat(forecast.Forecast(info)!));
            }
            Assert.Equal(passes, paths.Passes); // the forecasts ran no pass of their own
        }
        Assert.Equal(6, paths.Reused);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Recycled_pool_rows_and_long_sequences_continue_from_their_recent_tokens(bool hostSteps)
    {
        using var predictor = NewPredictor(7);
        const int window = 8;
        using var paths = new IncrementalPredictor(predictor, window: window, maxSequences: 2, hostSteps: hostSteps);
        int[][] prompts = [[1, 2, 3], [4, 5], [6, 7, 8, 9]];
        paths.Predict(prompts.Select((p, i) => new PredictorFeed(i, 0, p)).ToArray());
        var generated = prompts.Select(_ => new List<int>()).ToArray();
        // decoded tokens since the last restart, as the full pass sees them
        var visible = prompts.Select(_ => new List<int>()).ToArray();
        var random = new Random(2);
        for (int step = 0; step < 6 * window; step++)
        {
            int r = step % 3; // three sequences take turns in a pool of two rows: each comes back evicted
            generated[r].Add(random.Next(50));
            visible[r].Add(generated[r][^1]);
            if (visible[r].Count > window) visible[r].RemoveRange(0, visible[r].Count - window / 2);
            var got = paths.Predict([new PredictorFeed(r, prompts[r].Length + generated[r].Count - 1, [generated[r][^1]])]);
            int start = prompts[r].Length + generated[r].Count - visible[r].Count;
            Same(Full(predictor, prompts[r], visible[r].ToArray(), start)[^1], got[0][0]);
        }
    }

    [Fact]
    public void A_new_prompt_under_a_known_id_starts_the_sequence_again()
    {
        using var predictor = NewPredictor(8);
        using var paths = new IncrementalPredictor(predictor);
        var scheduler = new RowPathPredictor(paths);
        scheduler.Predict([[1, 2, 3]], [new List<int> { 9, 10 }]);
        int[] other = [4, 5, 6, 7];
        var got = paths.Predict([new PredictorFeed(0, other.Length, [11], other)]);
        Same(Full(predictor, other, [11], other.Length)[0], got[0][0]);
    }

    static float[] Flat(float[][] scores) => scores.SelectMany(l => l).ToArray();

    /// <summary>One token's batch scores (what the forecast gives for a step of one token): per layer scaled to sum to top-k, capped at 1.</summary>
    static float[] Scores(float[] expectedProbs)
    {
        var result = new float[expectedProbs.Length];
        for (int l = 0; l < Layers; l++)
        {
            double sum = 0;
            for (int e = 0; e < Experts; e++) sum += expectedProbs[l * Experts + e];
            for (int e = 0; e < Experts; e++) result[l * Experts + e] = (float)Math.Min(1.0, expectedProbs[l * Experts + e] * 2 / sum);
        }
        return result;
    }
}
