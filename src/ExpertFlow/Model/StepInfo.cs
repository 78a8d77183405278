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
