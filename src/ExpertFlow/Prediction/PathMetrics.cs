namespace ExpertFlow.Prediction;

/// <summary>Accuracy of one scorer on a set of examples.</summary>
/// <param name="Method">Scorer name.</param>
/// <param name="Mode">prefill or decode.</param>
/// <param name="Recall">Per token and layer: share of the truly activated experts found in the top-k predicted.</param>
/// <param name="ThresholdRecall">Recall of the set of experts scored at least 0.5 (predictor) or the top-k (heuristics).</param>
/// <param name="ThresholdPrecision">Share of that set that was truly activated.</param>
/// <param name="BatchCoverage">Decode steps of batches of <c>batchSize</c> sequences: share of the experts the batch truly needs (per layer, union over its tokens) that the union of predicted top-k holds.</param>
/// <param name="PredictedPerBatch">Experts per layer in the batch's predicted union.</param>
/// <param name="TruePerBatch">Experts per layer in the batch's true union.</param>
/// <param name="Tokens">Tokens evaluated.</param>
public sealed record PathMetrics(string Method, string Mode, double Recall, double ThresholdRecall, double ThresholdPrecision,
    double BatchCoverage, double PredictedPerBatch, double TruePerBatch, long Tokens);
