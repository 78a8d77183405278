namespace ExpertFlow.Prediction;

/// <summary>Accuracy of a probabilistic scorer at one MoE layer, per token over a set of examples.</summary>
/// <param name="Mode">prefill or decode.</param>
/// <param name="Layer">MoE layer index.</param>
/// <param name="Tokens">Tokens evaluated.</param>
/// <param name="RecallAtK">Share of the truly activated experts among the k highest scores.</param>
/// <param name="ThresholdRecall">Share of the truly activated experts scored p &gt;= 0.5.</param>
/// <param name="ThresholdPrecision">Share of the experts scored p &gt;= 0.5 that were activated.</param>
/// <param name="FloorPrecision">Share of the experts scored p &gt;= the prefetch floor that were activated.</param>
/// <param name="NormalisedFloorRecall">Share of the truly activated experts whose top-k-normalised score (<see cref="TopKNormalisation"/>, what PLEC compares with the floor) reaches the floor.</param>
/// <param name="NormalisedFloorPrecision">Share of the experts whose normalised score reaches the floor that were activated.</param>
public sealed record LayerMetrics(string Mode, int Layer, long Tokens, double RecallAtK, double ThresholdRecall, double ThresholdPrecision,
    double FloorPrecision, double NormalisedFloorRecall, double NormalisedFloorPrecision);
