using ExpertFlow.Prediction;
using ExpertFlow.Tracing;

namespace ExpertFlow.Tests.Prediction;

public class CalibrationEvaluationTests
{
    [Fact]
    public void Histogram_bins_and_expected_calibration_error_match_hand_computation()
    {
        var h = new ReliabilityHistogram(10);
        foreach (var (p, y) in new[] { (0.05, true), (0.05, false), (0.15, false), (0.95, true), (1.0, true), (0.92, false) }) h.Add(p, y);
        var r = h.ToReliability("raw", "decode");
        Assert.Equal(6, r.Count);
        Assert.Equal([2L, 1, 0, 0, 0, 0, 0, 0, 0, 3], r.Bins.Select(b => b.Count));
        Assert.Equal(0.5, r.Bins[0].ObservedFrequency!.Value, 12);
        Assert.Null(r.Bins[5].MeanPredicted);
        Assert.Equal((0.95 + 1.0 + 0.92) / 3, r.Bins[9].MeanPredicted!.Value, 12);
        // 2/6 |0.05 - 0.5| + 1/6 |0.15 - 0| + 3/6 |0.95667 - 0.66667|
        Assert.Equal(2 / 6.0 * 0.45 + 1 / 6.0 * 0.15 + 3 / 6.0 * ((0.95 + 1.0 + 0.92) / 3 - 2 / 3.0), r.ExpectedCalibrationError, 12);
    }

    [Fact]
    public void A_calibrated_scorer_has_near_zero_error_and_a_miscalibrated_one_its_closed_form()
    {
        var random = new Random(3);
        var calibrated = new ReliabilityHistogram(10);
        var squared = new ReliabilityHistogram(10);
        for (int i = 0; i < 400_000; i++)
        {
            double p = random.NextDouble(), u = random.NextDouble();
            calibrated.Add(p, u < p);
            squared.Add(p, u < p * p); // says p, happens with p^2
        }
        Assert.InRange(calibrated.ToReliability("raw", "decode").ExpectedCalibrationError, 0, 0.005);
        // p uniform: per bin [a, a + 0.1] mean p = a + 0.05, frequency = mean of p^2 = ((a + 0.1)^3 - a^3) / 0.3
        double expected = Enumerable.Range(0, 10).Select(b => b / 10.0).Sum(a => 0.1 * (a + 0.05 - (Math.Pow(a + 0.1, 3) - Math.Pow(a, 3)) / 0.3));
        Assert.Equal(expected, squared.ToReliability("raw", "decode").ExpectedCalibrationError, 2);
    }

    [Fact]
    public void Scores_of_traces_are_binned_raw_and_top_k_normalised()
    {
        var header = new RoutingTraceHeader(1, 4, 1);
        // four tokens of top-1 routing: expert 0, 1, 0, 1
        var seq = new TracedSequence(0, [5, 6, 7, 8], [[0], [1], [0], [1]]);
        var examples = new[] { PredictorExample.Prefill(seq, 8) };
        // uniform 0.25 is calibrated: one expert in four is used
        var uniform = new FixedScorer((_, _) => [0.25f, 0.25f, 0.25f, 0.25f]).Score(examples);
        Assert.All(CalibrationEvaluation.Evaluate(uniform, examples, header, "prefill"), r => Assert.Equal(0, r.ExpectedCalibrationError, 6));
        // 0.9 for expert 0 (used half the time), 0.1 for the others (expert 1 used in 2 of 12 cases)
        var skewed = new FixedScorer((_, _) => [0.9f, 0.1f, 0.1f, 0.1f]).Score(examples);
        var results = CalibrationEvaluation.Evaluate(skewed, examples, header, "prefill");
        Assert.Equal(CalibrationEvaluation.RawScores, results[0].Scores);
        // raw: 4/16 |0.9 - 0.5| + 12/16 |0.1 - 1/6|
        Assert.Equal(4 / 16.0 * 0.4 + 12 / 16.0 * (1 / 6.0 - 0.1), results[0].ExpectedCalibrationError, 6);
        // normalised to sum 1: 0.75 and 1/12: 4/16 |0.75 - 0.5| + 12/16 |1/12 - 1/6|
        Assert.Equal(CalibrationEvaluation.NormalisedScores, results[1].Scores);
        Assert.Equal(4 / 16.0 * 0.25 + 12 / 16.0 * (1 / 6.0 - 1 / 12.0), results[1].ExpectedCalibrationError, 6);
        Assert.Equal(4, results[1].Bins[7].Count);
    }

    [Fact]
    public void Top_k_normalisation_scales_a_layer_to_sum_k_and_caps_at_one()
    {
        var scores = new double[4];
        TopKNormalisation.Apply([0.4f, 0f, 0.6f, 0.2f], 2, scores);
        Assert.Equal([0.4 * 2 / 1.2, 0, 1, 0.2 * 2 / 1.2], scores.Select(v => Math.Round(v, 6)).ToArray(), (a, b) => Math.Abs(a - Math.Round(b, 6)) < 1e-6);
        TopKNormalisation.Apply([0f, 0f, 0f, 0f], 2, scores);
        Assert.All(scores, v => Assert.Equal(0, v));
    }
}
