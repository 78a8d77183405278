namespace ExpertFlow.Offloading;

/// <summary>The host tier: where experts live when they are not in a compute-device slot.</summary>
public interface IExpertStore : IDisposable
{
    ExpertLayout Layout { get; }
    /// <summary>"pinned-arena", "host-arena" or "disk".</summary>
    string Tier { get; }
    /// <summary>Host memory this store holds (the arena; 0 for the disk tier).</summary>
    long HostBytes { get; }
    /// <summary>True when the arena is page-locked, so device copies can be asynchronous DMA.</summary>
    bool IsPinned { get; }
    /// <summary>The expert's contiguous bytes in host memory, or false when this tier must read it (disk).</summary>
    bool TryGetHostPointer(ExpertKey key, out IntPtr pointer);
    /// <summary>Copies the expert's bytes into <paramref name="destination"/>.</summary>
    void ReadInto(ExpertKey key, Span<byte> destination);
}
