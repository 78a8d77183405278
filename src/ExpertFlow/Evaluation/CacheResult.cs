using ExpertFlow.Model;
using ExpertFlow.Offloading;
using ExpertFlow.Offloading.Policies;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace ExpertFlow.Evaluation;

/// <summary>What a run measured (generation through the real offloading engine).</summary>
public sealed record CacheResult(CacheCase Case, int Slots, double HitRatio, long Transfers, long DemandTransfers, long PrefetchTransfers, long PrefetchWasted,
    double StallSeconds, double DecodeTokensPerSecond, double PredictorSeconds, double ExpertsPerBatchLayer, bool SameIdsAsResident, string? Error)
{
    /// <summary>Hit ratio of the decode steps only (prefill excluded).</summary>
    public double DecodeHitRatio { get; init; } = 1;
    /// <summary>The device it ran on (for reports).</summary>
    public string Device { get; init; } = "";
}
