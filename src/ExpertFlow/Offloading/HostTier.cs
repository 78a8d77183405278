namespace ExpertFlow.Offloading;

/// <summary>Where host copies of the experts live.</summary>
public enum HostTier
{
    /// <summary>Pinned arena on CUDA; disk (memory-mapped checkpoint) on CPU.</summary>
    Auto,
    /// <summary>One contiguous host arena (pinned on CUDA).</summary>
    Arena,
    /// <summary>Read from the source (the memory-mapped checkpoint) on every load.</summary>
    Disk,
}
