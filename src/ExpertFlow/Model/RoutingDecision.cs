namespace ExpertFlow.Model;

/// <summary>
/// One routing decision of one MoE layer for one step: for each routed token (padding excluded), its sequence,
/// position and token id, and its chosen experts with their weights (as the layer applies them), in the router's
/// order (descending probability). Switch: top-1, the weight is the router probability.
/// </summary>
public sealed record RoutingDecision(long Step, int Layer, int[] SequenceIds, int[] Positions, int[] TokenIds, int[][] Experts, float[][] Weights);
