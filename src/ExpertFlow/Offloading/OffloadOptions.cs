namespace ExpertFlow.Offloading;

/// <summary>Choices of an offloaded run.</summary>
/// <param name="Policy">--policy name.</param>
/// <param name="MemoryBytes">--memory in bytes; null: no limit (every expert gets a slot).</param>
/// <param name="Tier">Host tier.</param>
/// <param name="ImplicitRelease">The runtime never calls Release: a lease ends at the next Get or at the layer's end.</param>
/// <remarks>A policy name ending in <c>+cpu</c> (e.g. <c>on-demand+lookahead+cpu</c>) turns on host compute: see
/// <see cref="ExpertOffloadEngine.PlanHostCompute"/>.</remarks>
public sealed record OffloadOptions(string Policy = "all-resident", long? MemoryBytes = null, HostTier Tier = HostTier.Auto, bool ImplicitRelease = false);
