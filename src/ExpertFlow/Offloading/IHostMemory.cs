namespace ExpertFlow.Offloading;

/// <summary>A block of host memory; pinned (page-locked) when made by the CUDA driver.</summary>
public interface IHostMemory : IDisposable
{
    IntPtr Pointer { get; }
    long Bytes { get; }
    bool IsPinned { get; }
}
