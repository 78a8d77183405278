using ExpertFlow.Offloading.Policies;

namespace ExpertFlow.Offloading;

/// <summary>The choices of an offloaded run, parsed once at the edge (command line, server settings).</summary>
/// <param name="Policy">The cache policy, with its look-ahead and host-compute parts.</param>
/// <param name="Memory">The device memory budget.</param>
/// <param name="Tier">Where experts wait on the host.</param>
public sealed record OffloadOptions(PolicySpec Policy, MemoryBudget Memory, HostTier Tier = HostTier.Auto)
{
    /// <summary>PLEC's use of its forecast (only read by the <c>expertflow</c> policy).</summary>
    public PredictiveOptions Predictive { get; init; } = new();

    /// <summary>The runtime never calls Release: a lease ends at the next Get or at the layer's end (the model runtime's contract).</summary>
    public bool ImplicitRelease { get; init; }
}
