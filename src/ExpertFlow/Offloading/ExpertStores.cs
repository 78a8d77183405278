using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

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

/// <summary>A block of host memory; pinned (page-locked) when made by the CUDA driver.</summary>
public interface IHostMemory : IDisposable
{
    IntPtr Pointer { get; }
    long Bytes { get; }
    bool IsPinned { get; }
}

/// <summary>Ordinary (pageable) host memory, 4 KiB aligned.</summary>
public sealed unsafe class AlignedHostMemory : IHostMemory
{
    public AlignedHostMemory(long bytes)
    {
        Bytes = bytes;
        try { Pointer = (IntPtr)NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 1), 4096); }
        catch (OutOfMemoryException)
        { throw new OutOfMemoryException($"could not allocate {MemorySize.Format(bytes)} of host memory for the expert arena; use the disk tier (--host-tier disk) or free memory."); }
    }
    public IntPtr Pointer { get; private set; }
    public long Bytes { get; }
    public bool IsPinned => false;
    public void Dispose()
    {
        if (Pointer != IntPtr.Zero) NativeMemory.AlignedFree((void*)Pointer);
        Pointer = IntPtr.Zero;
    }
}

/// <summary>
/// All experts in one contiguous host arena, expert i at offset i * BytesPerExpert (dense index over the
/// MoE layers). Filled once from a source, in parallel.
/// </summary>
public sealed unsafe class ArenaExpertStore : IExpertStore
{
    readonly IHostMemory memory;

    public ArenaExpertStore(IExpertSource source, IHostMemory memory, ILogger? log = null, int parallelism = 0)
    {
        Layout = source.Layout;
        if (memory.Bytes < Layout.TotalExpertBytes)
            throw new ArgumentException($"the host arena has {memory.Bytes} bytes, the experts need {Layout.TotalExpertBytes}");
        this.memory = memory;
        var started = System.Diagnostics.Stopwatch.StartNew();
        var options = new ParallelOptions { MaxDegreeOfParallelism = parallelism > 0 ? parallelism : Environment.ProcessorCount };
        Parallel.For(0, Layout.TotalExperts, options, i =>
            source.Read(Layout.KeyAt(i), new Span<byte>((byte*)memory.Pointer + i * Layout.BytesPerExpert, checked((int)Layout.BytesPerExpert))));
        (log ?? NullLogger.Instance).LogInformation("expert arena: {Count} experts, {Size} of {Kind} host memory, filled in {Seconds:F1} s",
            Layout.TotalExperts, MemorySize.Format(Layout.TotalExpertBytes), memory.IsPinned ? "pinned" : "pageable", started.Elapsed.TotalSeconds);
    }

    public ExpertLayout Layout { get; }
    public string Tier => memory.IsPinned ? "pinned-arena" : "host-arena";
    public long HostBytes => memory.Bytes;
    public bool IsPinned => memory.IsPinned;

    public bool TryGetHostPointer(ExpertKey key, out IntPtr pointer)
    {
        pointer = memory.Pointer + (nint)(Layout.IndexOf(key) * Layout.BytesPerExpert);
        return true;
    }

    public void ReadInto(ExpertKey key, Span<byte> destination)
    {
        TryGetHostPointer(key, out var p);
        new ReadOnlySpan<byte>((void*)p, checked((int)Layout.BytesPerExpert)).CopyTo(destination);
    }

    public void Dispose() => memory.Dispose();
}

/// <summary>
/// Disk tier: nothing is kept in host memory; every load reads the source (e.g. the memory-mapped
/// safetensors checkpoint), so the page cache and the disk serve it.
/// </summary>
public sealed class DiskExpertStore(IExpertSource source) : IExpertStore
{
    public ExpertLayout Layout => source.Layout;
    public string Tier => "disk";
    public long HostBytes => 0;
    public bool IsPinned => false;
    public bool TryGetHostPointer(ExpertKey key, out IntPtr pointer) { pointer = IntPtr.Zero; return false; }
    public void ReadInto(ExpertKey key, Span<byte> destination) => source.Read(key, destination);
    public void Dispose() { }
}
