namespace ExpertFlow.Prediction;

/// <summary>
/// How well probabilities match outcome frequencies: the reliability diagram's bins and the expected calibration error,
/// ECE = sum over bins of (bin count / total) x |mean predicted - observed frequency|.
/// </summary>
/// <param name="Scores">Which scores were binned (e.g. raw sigmoid, top-k normalised).</param>
/// <param name="Mode">prefill or decode.</param>
/// <param name="Bins">Equal-width bins over [0, 1].</param>
/// <param name="ExpectedCalibrationError">ECE.</param>
/// <param name="Count">Predictions binned.</param>
/// <param name="Temperature">The temperature the probabilities were rescaled by first (<see cref="TemperatureScaling"/>; 1: raw).</param>
public sealed record Reliability(string Scores, string Mode, IReadOnlyList<ReliabilityBin> Bins, double ExpectedCalibrationError, long Count, double Temperature = 1);
