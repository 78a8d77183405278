using ExpertFlow.Offloading.Policies;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Toolkit.Runtime.Cuda;
using static TorchSharp.torch;

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

/// <summary>Choices of an offloaded run.</summary>
/// <param name="Policy">--policy name.</param>
/// <param name="MemoryBytes">--memory in bytes; null: no limit (every expert gets a slot).</param>
/// <param name="Tier">Host tier.</param>
/// <param name="ImplicitRelease">The runtime never calls Release: a lease ends at the next Get or at the layer's end.</param>
public sealed record OffloadOptions(string Policy = "all-resident", long? MemoryBytes = null, HostTier Tier = HostTier.Auto, bool ImplicitRelease = false);

/// <summary>
/// Everything an offloaded run needs, built and owned together: host tier, device slots under the
/// budget, transfer engine for the device, the cache engine with its policy, and the stats.
/// </summary>
public sealed class OffloadedExperts : IDisposable
{
    readonly IExpertStore store;
    readonly SlotPool slots;
    readonly ITransferEngine transfers;
    readonly CudaContext? context;
    readonly IDisposable? pinned;

    OffloadedExperts(IExpertStore store, SlotPool slots, ITransferEngine transfers, ExpertOffloadEngine engine, MemoryPlan plan, CudaContext? context, IDisposable? pinned)
    {
        this.store = store;
        this.slots = slots;
        this.transfers = transfers;
        Engine = engine;
        Plan = plan;
        this.context = context;
        this.pinned = pinned;
    }

    public ExpertOffloadEngine Engine { get; }
    public OffloadStats Stats => Engine.Stats;
    public MemoryPlan Plan { get; }
    /// <summary>The device slots (for views over them).</summary>
    public SlotPool Slots => slots;
    public string HostTierName => store.Tier;

    /// <summary>
    /// Plans the budget (a clear error when it cannot hold the footprint plus the policy's minimum), fills
    /// the host tier, allocates the slots and starts the policy (all-resident loads everything and waits).
    /// </summary>
    public static OffloadedExperts Create(IExpertSource source, Device device, DeviceFootprint footprint, OffloadOptions options,
        ILogger? log = null, IOffloadPolicy? policy = null)
    {
        log ??= NullLogger.Instance;
        policy ??= PolicyFactory.Create(options.Policy);
        var layout = source.Layout;
        bool cuda = device.type == TorchSharp.DeviceType.CUDA;
        if (!cuda && device.type != TorchSharp.DeviceType.CPU) throw new ArgumentException($"offloading supports CPU and CUDA devices, not {device}");
        if (!cuda) footprint = DeviceFootprint.None; // on CPU the budget bounds the RAM of cached experts only
        long budget = options.MemoryBytes ?? footprint.Total + layout.TotalExpertBytes;
        var plan = MemoryPlan.Create(budget, footprint, layout, policy.RequiredSlots(layout), policy.Name);
        log.LogInformation("memory plan: budget {Budget}, footprint {Footprint}, {Slots} of {Total} experts cached ({Fraction:P0}), {SlotBytes} of slots",
            MemorySize.Format(plan.BudgetBytes), MemorySize.Format(footprint.Total), plan.Slots, plan.TotalExperts, plan.CachedFraction, MemorySize.Format(plan.SlotBytes));

        CudaContext? context = null;
        IExpertStore? store = null;
        PinnedHostBuffer? pinned = null;
        SlotPool? slots = null;
        ITransferEngine? transfers = null;
        try
        {
            var tier = options.Tier == HostTier.Auto ? (cuda ? HostTier.Arena : HostTier.Disk) : options.Tier;
            if (cuda) context = CudaDriver.Open().RetainPrimaryContext(device.index < 0 ? 0 : device.index);
            if (tier == HostTier.Disk) store = new DiskExpertStore(source);
            else if (cuda)
            {
                pinned = PinnedHostBuffer.Allocate(context!, layout.TotalExpertBytes);
                store = new ArenaExpertStore(source, new PinnedHostMemory(pinned), log);
            }
            else store = new ArenaExpertStore(source, new AlignedHostMemory(layout.TotalExpertBytes), log);

            slots = new SlotPool(layout, plan.Slots, device);
            transfers = cuda ? new CudaTransferEngine(context!, store, pinned, slots) : new CpuTransferEngine(store, slots);
            var stats = new OffloadStats(layout, plan, policy.Name, device.ToString(), store.Tier);
            Func<long>? measure = context == null ? null : () => { var (free, total) = context.MemoryInfo(); return total - free; };
            var engine = new ExpertOffloadEngine(slots, transfers, policy, stats, log, measure, options.ImplicitRelease);
            engine.WaitForTransfers();
            return new OffloadedExperts(store, slots, transfers, engine, plan, context, pinned);
        }
        catch
        {
            transfers?.Dispose();
            slots?.Dispose();
            store?.Dispose();
            pinned?.Dispose();
            context?.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Engine.Dispose();
        transfers.Dispose();
        slots.Dispose();
        store.Dispose();
        pinned?.Dispose();
        context?.Dispose();
    }

    /// <summary>Adapts the driver's pinned buffer to the store's host memory (the buffer is disposed by the owner).</summary>
    sealed class PinnedHostMemory(PinnedHostBuffer buffer) : IHostMemory
    {
        public IntPtr Pointer => buffer.Pointer;
        public long Bytes => buffer.Length;
        public bool IsPinned => true;
        public void Dispose() { }
    }
}
