using Toolkit.Runtime;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ExpertFlow.Offloading;

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
