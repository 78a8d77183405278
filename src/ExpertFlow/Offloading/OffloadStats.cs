using System.Diagnostics;
using System.Text.Json.Serialization;

namespace ExpertFlow.Offloading;

/// <summary>Memory at one moment of the run.</summary>
/// <param name="Seconds">Since the run started.</param>
/// <param name="PlannedBytes">Footprint + slots, as accounted (constant: the slots are preallocated).</param>
/// <param name="CachedExpertBytes">Slots that hold an expert.</param>
/// <param name="MeasuredDeviceBytes">Device memory in use as the driver reports it (CUDA), or -1.</param>
public readonly record struct MemorySample(double Seconds, long PlannedBytes, long CachedExpertBytes, long MeasuredDeviceBytes);

/// <summary>Everything one run measured; serialised by --stats-json.</summary>
public sealed class OffloadStats
{
    readonly Stopwatch clock = Stopwatch.StartNew();

    public OffloadStats(ExpertLayout layout, MemoryPlan plan, string policy, string device, string hostTier)
    {
        Layers = layout.MoeLayers.Select(l => new LayerStats { Layer = l }).ToArray();
        Plan = plan;
        Policy = policy;
        Device = device;
        HostTier = hostTier;
    }

    public string Policy { get; }
    public string Device { get; }
    public string HostTier { get; }
    public MemoryPlan Plan { get; }
    public IReadOnlyList<LayerStats> Layers { get; }

    public long DemandTransfers { get; set; }
    public long PrefetchTransfers { get; set; }
    public long DemandBytes { get; set; }
    public long PrefetchBytes { get; set; }
    /// <summary>Prefetched experts evicted or passed over without being used.</summary>
    public long PrefetchWasted { get; set; }
    /// <summary>Missed experts computed on the host CPU from the host tier instead of being copied (<c>+cpu</c>).</summary>
    public long HostComputedExperts { get; set; }
    /// <summary>Host seconds spent computing those experts.</summary>
    public double HostComputeSeconds { get; set; }
    /// <summary>MoE layers for which the runtime made a look-ahead guess (policies with <c>+lookahead</c>).</summary>
    public long AnticipatedLayers { get; set; }
    /// <summary>Host time blocked waiting for copies (CPU engine; initial loads excluded).</summary>
    public double HostStallSeconds { get; set; }
    /// <summary>Time the compute stream waited on copies, measured with CUDA events (CUDA engine).</summary>
    public double DeviceStallSeconds { get; set; }
    public double StallSeconds => HostStallSeconds + DeviceStallSeconds;
    /// <summary>Seconds spent copying time on the demand stream, measured on the device (CUDA), when known.</summary>
    public double DemandCopySeconds { get; set; }
    /// <summary>
    /// Host time of decode steps inside MoE layers, from the routing reaching the engine to the layer's end: issuing
    /// copies and launching the experts' kernels (and, on CPU, computing them).
    /// </summary>
    public double HostInLayerSeconds { get; set; }
    /// <summary>
    /// Host time of decode steps between a MoE layer's end and the next layer's routing: launching the residual, the
    /// next attention and router, then waiting for the routing to reach the host (the device catching up, copies included).
    /// </summary>
    public double HostBetweenLayersSeconds { get; set; }
    public int Steps { get; set; }
    public long Tokens { get; set; }
    /// <summary>Seconds from the first step's start to the last step's end.</summary>
    public double Seconds { get; set; }
    public double TokensPerSecond => Seconds > 0 ? Tokens / Seconds : 0;
    public long PeakCachedExpertBytes { get; set; }
    public long PeakMeasuredDeviceBytes { get; set; } = -1;
    public long Requests => Layers.Sum(l => l.Requests);
    public long Hits => Layers.Sum(l => l.Hits);
    public double HitRatio => Requests == 0 ? 0 : (double)Hits / Requests;
    /// <summary>Requests and hits of decode steps only (a prefill of many tokens needs most experts of every layer at once).</summary>
    public long DecodeRequests { get; set; }
    public long DecodeHits { get; set; }
    public double DecodeHitRatio => DecodeRequests == 0 ? 0 : (double)DecodeHits / DecodeRequests;
    public long TransferBytes => DemandBytes + PrefetchBytes;
    /// <summary>Demand bytes / demand copy seconds (GB/s, 1e9), when the copy time was measured.</summary>
    public double DemandBandwidthGBps => DemandCopySeconds > 0 ? DemandBytes / DemandCopySeconds / 1e9 : 0;

    [JsonIgnore] public List<MemorySample> Memory { get; } = [];
    public IReadOnlyList<MemorySample> MemoryTimeline => Memory;

    internal double Elapsed => clock.Elapsed.TotalSeconds;

    internal void Sample(long cachedBytes, long measured)
    {
        Memory.Add(new MemorySample(Elapsed, Plan.PlannedBytes, cachedBytes, measured));
        PeakCachedExpertBytes = Math.Max(PeakCachedExpertBytes, cachedBytes);
        if (measured >= 0) PeakMeasuredDeviceBytes = Math.Max(PeakMeasuredDeviceBytes, measured);
    }
}
