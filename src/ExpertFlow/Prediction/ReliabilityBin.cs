namespace ExpertFlow.Prediction;

/// <summary>One bin of a reliability diagram: the predictions with a probability in [<see cref="Lower"/>, <see cref="Upper"/>).</summary>
/// <param name="Lower">Lower edge (inclusive).</param>
/// <param name="Upper">Upper edge (exclusive; the last bin includes 1).</param>
/// <param name="Count">Predictions in the bin.</param>
/// <param name="MeanPredicted">Their mean predicted probability (null when the bin is empty).</param>
/// <param name="ObservedFrequency">Share of them that came true (null when the bin is empty).</param>
public sealed record ReliabilityBin(double Lower, double Upper, long Count, double? MeanPredicted, double? ObservedFrequency);
