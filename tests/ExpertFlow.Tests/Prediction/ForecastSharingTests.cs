using ExpertFlow.Model;
using ExpertFlow.Prediction;
using ExpertFlow.Scheduling;
using Toolkit.Runtime;
using static TorchSharp.torch;

namespace ExpertFlow.Tests.Prediction;

public class ForecastSharingTests
{
    public ForecastSharingTests() => LibTorch.EnsureLoaded();

    [Fact]
    public void Forecast_reuses_the_schedulers_predictions_and_agrees_with_its_own()
    {
        manual_seed(5);
        using var predictor = new RoutingPathPredictor(new PredictorConfig { VocabSize = 50, NumLayers = 3, NumExperts = 6, TopK = 2, ModelDim = 32, Heads = 2, FeedForwardDim = 64, MaxPositions = 64 });
        int[][] prompts = [[3, 4, 5, 6], [7, 8, 9, 10, 11]];
        var own = new PredictorForecast(predictor);
        var shared = new PredictorForecast(predictor);
        var scheduler = new RowPathPredictor(predictor, share: shared);
        var prefill = new StepInfo(0, true, [0, 1], [0, 0], prompts);
        own.Forecast(prefill);
        shared.Forecast(prefill);

        var generated = new List<int>[] { [], [] };
        int[][] decodeTokens = [[12, 13], [14, 15], [16, 17]];
        for (int step = 0; step < decodeTokens.Length; step++)
        {
            for (int r = 0; r < 2; r++) generated[r].Add(decodeTokens[step][r]);
            scheduler.Predict(prompts, generated);
            // The scheduler's batches: row 0 alone, then row 1 alone (the other row feeds nothing).
            float[][]? upcoming = null;
            for (int r = 0; r < 2; r++)
            {
                int[][] tokens = r == 0 ? [[decodeTokens[step][0]], []] : [[], [decodeTokens[step][1]]];
                // cache lengths: row 0 has taken this step's token once its batch ran
                var info = new StepInfo(1 + 2 * step + r, false, [0, 1], [prompts[0].Length + step + r, prompts[1].Length + step], tokens);
                if (r == 0)
                {
                    // while row 0 runs, row 1's coming step is already known from the scheduler's predictions
                    upcoming = shared.ForecastUpcoming(info);
                    Assert.Null(own.ForecastUpcoming(info));
                }
                var expected = own.Forecast(info)!;
                var actual = shared.Forecast(info)!;
                for (int layer = 0; layer < 3; layer++)
                    for (int e = 0; e < 6; e++)
                    {
                        Assert.Equal(expected[layer][e], actual[layer][e], 1e-5);
                        if (r == 1) Assert.Equal(expected[layer][e], upcoming![layer][e], 1e-5);
                    }
                if (r == 1) Assert.Null(shared.ForecastUpcoming(info)); // row 0's next token is not predicted yet
            }
        }
        Assert.Equal(6, shared.ReusedSteps);
        Assert.Equal(0, own.ReusedSteps);
    }
}
