namespace ExpertFlow.Model;

/// <summary>
/// What one forward step is about to process, given to observers before the first layer runs (a routing-path
/// predictor can read the token ids here). Row i of <see cref="TokenIds"/> belongs to sequence <see cref="SequenceIds"/>[i]
/// and starts at cache position <see cref="StartPositions"/>[i].
/// </summary>
public sealed record StepInfo(long Step, bool IsPrefill, int[] SequenceIds, int[] StartPositions, int[][] TokenIds, bool IsDecoder = true)
{
    /// <summary>
    /// Whether a step is a prefill: every row that feeds tokens starts at position 0. Rows that feed nothing do not
    /// count (with two batches sharing one cache, the second batch's prompt step leaves the first batch's rows idle).
    /// </summary>
    public static bool IsPromptStep(int[] starts, int[][] tokens) =>
        Enumerable.Range(0, starts.Length).Where(r => tokens[r].Length > 0).All(r => starts[r] == 0);
}

/// <summary>
/// One routing decision of one MoE layer for one step: for each routed token (padding excluded), its sequence,
/// position and token id, and its chosen experts with their weights (as the layer applies them), in the router's
/// order (descending probability). Switch: top-1, the weight is the router probability.
/// </summary>
public sealed record RoutingDecision(long Step, int Layer, int[] SequenceIds, int[] Positions, int[] TokenIds, int[][] Experts, float[][] Weights);

/// <summary>Receives every step start and every routing decision (for traces, predictors, statistics).</summary>
public interface IRoutingObserver
{
    /// <summary>Before the step's first layer (default: nothing).</summary>
    void OnStep(StepInfo step) { }

    /// <summary>After a step, once per MoE layer, in layer order.</summary>
    void OnRouting(RoutingDecision decision);
}
