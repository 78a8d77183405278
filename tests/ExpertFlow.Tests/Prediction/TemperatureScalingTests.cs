using ExpertFlow.Prediction;
using ExpertFlow.Tracing;
using Toolkit.Runtime;
using static TorchSharp.torch;

namespace ExpertFlow.Tests.Prediction;

public class TemperatureScalingTests
{
    static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    [Fact]
    public void Fit_recovers_the_temperature_that_generated_the_outcomes_and_is_the_grid_minimum()
    {
        var random = new Random(11);
        int n = 200_000;
        var z = new double[n];
        var y = new bool[n];
        for (int i = 0; i < n; i++)
        {
            z[i] = 6 * (random.NextDouble() - 0.5) * 2;
            y[i] = random.NextDouble() < Sigmoid(z[i] / 2.5); // the scores are 2.5x too sharp
        }
        double t = TemperatureScaling.Fit(z, y);
        Assert.InRange(t, 2.4, 2.6);
        double best = Enumerable.Range(1, 400).Select(i => TemperatureScaling.MeanBce(z, y, i * 0.01)).Min();
        Assert.True(TemperatureScaling.MeanBce(z, y, t) <= best + 1e-9);
    }

    [Fact]
    public void Apply_divides_the_logit_by_the_temperature()
    {
        float[] p = [(float)Sigmoid(2), (float)Sigmoid(-4), 0.5f];
        TemperatureScaling.Apply(p, 2);
        Assert.Equal(Sigmoid(1), p[0], 6);
        Assert.Equal(Sigmoid(-2), p[1], 6);
        Assert.Equal(0.5, p[2], 6);
        float[] same = [0.3f];
        TemperatureScaling.Apply(same, 1);
        Assert.Equal(0.3f, same[0]);
    }

    [Fact]
    public void Calibration_file_round_trips_and_a_damaged_one_says_what_to_do()
    {
        string dir = Path.Combine(Path.GetTempPath(), "ef-calibration-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            Assert.Null(PredictorCalibration.Load(dir));
            var c = new PredictorCalibration(1.25, 1000, 0.1, 0.09);
            c.Save(dir);
            Assert.Equal(c, PredictorCalibration.Load(dir));
            File.WriteAllText(Path.Combine(dir, PredictorCalibration.FileName), "{\"temperature\": -1}");
            Assert.Contains("delete it", Assert.Throws<InvalidDataException>(() => PredictorCalibration.Load(dir)).Message);
            File.WriteAllText(Path.Combine(dir, PredictorCalibration.FileName), "{not json");
            Assert.Throws<InvalidDataException>(() => PredictorCalibration.Load(dir));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void A_temperature_rescales_the_reliability_of_a_calibrated_scorer_by_hand()
    {
        var header = new RoutingTraceHeader(1, 4, 1);
        var seq = new TracedSequence(0, [5, 6, 7, 8], [[0], [1], [2], [3]]);
        var examples = new[] { PredictorExample.Prefill(seq, 8) };
        var uniform = new FixedScorer((_, _) => [0.25f, 0.25f, 0.25f, 0.25f]).Score(examples);
        var r = CalibrationEvaluation.Evaluate(uniform, examples, header, "prefill", temperature: 2);
        // every probability becomes sigmoid(logit(0.25) / 2) = 1 / (1 + sqrt 3), one in four comes true
        Assert.Equal(1 / (1 + Math.Sqrt(3)) - 0.25, r[0].ExpectedCalibrationError, 6);
        Assert.Equal(2, r[0].Temperature);
        // normalised to sum 1 again: calibrated
        Assert.Equal(0, r[1].ExpectedCalibrationError, 6);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_incremental_predictor_applies_its_temperature_to_prompts_and_steps(bool hostSteps)
    {
        LibTorch.EnsureLoaded();
        manual_seed(3);
        using var predictor = new RoutingPathPredictor(new PredictorConfig { VocabSize = 30, NumLayers = 2, NumExperts = 4, TopK = 2, ModelDim = 32, Heads = 2, FeedForwardDim = 64, MaxPositions = 64 });
        predictor.eval();
        using var raw = new IncrementalPredictor(predictor, hostSteps: hostSteps);
        using var scaled = new IncrementalPredictor(predictor, hostSteps: hostSteps, temperature: 1.7);
        PredictorFeed[][] steps = [[new(0, 0, [3, 4, 5])], [new(0, 3, [6])], [new(0, 4, [7, 8])]];
        foreach (var feeds in steps)
        {
            var expected = raw.Predict(feeds);
            var actual = scaled.Predict(feeds);
            for (int t = 0; t < expected[0].Length; t++)
                for (int i = 0; i < expected[0][t].Length; i++)
                    Assert.Equal(Sigmoid(TemperatureScaling.Logit(expected[0][t][i]) / 1.7), actual[0][t][i], 5);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => new IncrementalPredictor(predictor, temperature: 0));
    }
}
