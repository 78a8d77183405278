namespace ExpertFlow.Scheduling;

/// <summary>Outcome of a dual-batch generation; ExpertsPerBatchLayer is the mean number of distinct experts a batch activates per MoE layer (decode steps).</summary>
public sealed record DualBatchResult(int[][] OutputIds, double PrefillSeconds, double DecodeSeconds, int GeneratedTokens, double ExpertsPerBatchLayer, double SchedulerSeconds)
{
    public double DecodeTokensPerSecond => DecodeSeconds > 0 ? (GeneratedTokens - OutputIds.Length) / DecodeSeconds : 0;
}
