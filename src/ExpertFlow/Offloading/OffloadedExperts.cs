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
/// <remarks>A policy name ending in <c>+cpu</c> (e.g. <c>on-demand+lookahead+cpu</c>) turns on host compute: see
/// <see cref="ExpertOffloadEngine.PlanHostCompute"/>.</remarks>
public sealed record OffloadOptions(string Policy = "all-resident", long? MemoryBytes = null, HostTier Tier = HostTier.Auto, bool ImplicitRelease = false);

/// <summary>
/// The host tier of one device, built once and shareable by several runs (a benchmark sweep fills the
/// 25 GB pinned arena once): the store, its pinned memory and the device's CUDA context.
/// </summary>
public sealed class HostExperts : IDisposable
{
    HostExperts(IExpertStore store, PinnedHostBuffer? pinned, CudaContext? context, Device device)
    {
        Store = store;
        Pinned = pinned;
        Context = context;
        Device = device;
    }

    public IExpertStore Store { get; }
    public PinnedHostBuffer? Pinned { get; }
    public CudaContext? Context { get; }
    public Device Device { get; }

    /// <summary>Fills the host tier for <paramref name="device"/> (pinned arena on CUDA unless the disk tier is asked for).</summary>
    public static HostExperts Create(IExpertSource source, Device device, HostTier tier, ILogger? log = null)
    {
        bool cuda = device.type == TorchSharp.DeviceType.CUDA;
        if (!cuda && device.type != TorchSharp.DeviceType.CPU) throw new ArgumentException($"offloading supports CPU and CUDA devices, not {device}");
        if (tier == HostTier.Auto) tier = cuda ? HostTier.Arena : HostTier.Disk;
        CudaContext? context = null;
        PinnedHostBuffer? pinned = null;
        try
        {
            if (cuda) context = CudaDriver.Open().RetainPrimaryContext(device.index < 0 ? 0 : device.index);
            IExpertStore store;
            if (tier == HostTier.Disk) store = new DiskExpertStore(source);
            else if (cuda)
            {
                pinned = PinnedHostBuffer.Allocate(context!, source.Layout.TotalExpertBytes);
                store = new ArenaExpertStore(source, new BorrowedPinnedMemory(pinned), log);
            }
            else store = new ArenaExpertStore(source, new AlignedHostMemory(source.Layout.TotalExpertBytes), log);
            return new HostExperts(store, pinned, context, device);
        }
        catch
        {
            pinned?.Dispose();
            context?.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Store.Dispose();
        Pinned?.Dispose();
        Context?.Dispose();
    }

    /// <summary>The driver's pinned buffer as the store's host memory (freed by <see cref="HostExperts"/>).</summary>
    sealed class BorrowedPinnedMemory(PinnedHostBuffer buffer) : IHostMemory
    {
        public IntPtr Pointer => buffer.Pointer;
        public long Bytes => buffer.Length;
        public bool IsPinned => true;
        public void Dispose() { }
    }
}

/// <summary>
/// Everything an offloaded run needs, built and owned together: the host tier (or a shared one), device
/// slots under the budget, the transfer engine for the device, the cache engine with its policy, and stats.
/// </summary>
public sealed class OffloadedExperts : IDisposable
{
    readonly HostExperts host;
    readonly bool ownsHost;
    readonly SlotPool slots;
    readonly ITransferEngine transfers;

    OffloadedExperts(HostExperts host, bool ownsHost, SlotPool slots, ITransferEngine transfers, ExpertOffloadEngine engine, MemoryPlan plan)
    {
        this.host = host;
        this.ownsHost = ownsHost;
        this.slots = slots;
        this.transfers = transfers;
        Engine = engine;
        Plan = plan;
    }

    public ExpertOffloadEngine Engine { get; }
    public OffloadStats Stats => Engine.Stats;
    public MemoryPlan Plan { get; }
    public string HostTierName => host.Store.Tier;
    /// <summary>The device slots (for views over them).</summary>
    public SlotPool Slots => slots;

    /// <summary>
    /// Plans the budget (a clear error when it cannot hold the footprint plus the policy's minimum), fills
    /// the host tier (unless <paramref name="sharedHost"/> is given), allocates the slots and starts the
    /// policy (all-resident loads everything and waits).
    /// </summary>
    public static OffloadedExperts Create(IExpertSource source, Device device, DeviceFootprint footprint, OffloadOptions options,
        ILogger? log = null, IOffloadPolicy? policy = null, HostExperts? sharedHost = null, Func<long>? measureDeviceBytes = null)
    {
        log ??= NullLogger.Instance;
        policy ??= PolicyFactory.Create(options.Policy);
        bool hostCompute = PolicyFactory.SplitHostCompute(options.Policy).HostCompute;
        var layout = source.Layout;
        bool cuda = device.type == TorchSharp.DeviceType.CUDA;
        if (!cuda) footprint = DeviceFootprint.None; // on CPU the budget bounds the RAM of cached experts only
        long budget = options.MemoryBytes ?? footprint.Total + layout.TotalExpertBytes;
        var plan = MemoryPlan.Create(budget, footprint, layout, policy.RequiredSlots(layout), policy.Name);
        log.LogInformation("memory plan ({Policy}): budget {Budget}, footprint {Footprint}, {Slots} of {Total} experts cached ({Fraction:P0}), {SlotBytes} of slots",
            policy.Name, MemorySize.Format(plan.BudgetBytes), MemorySize.Format(footprint.Total), plan.Slots, plan.TotalExperts, plan.CachedFraction, MemorySize.Format(plan.SlotBytes));

        var host = sharedHost ?? HostExperts.Create(source, device, options.Tier, log);
        SlotPool? slots = null;
        ITransferEngine? transfers = null;
        try
        {
            slots = new SlotPool(layout, plan.Slots, device);
            transfers = cuda ? new CudaTransferEngine(host.Context!, host.Store, host.Pinned, slots) : new CpuTransferEngine(host.Store, slots);
            var stats = new OffloadStats(layout, plan, policy.Name + (hostCompute ? PolicyFactory.HostComputeSuffix : ""), device.ToString(), host.Store.Tier);
            var context = host.Context;
            measureDeviceBytes ??= context == null ? null : () => { var (free, total) = context.MemoryInfo(); return total - free; };
            var engine = new ExpertOffloadEngine(slots, transfers, policy, stats, log, measureDeviceBytes, options.ImplicitRelease,
                hostCompute ? host.Store : null);
            engine.WaitForTransfers();
            return new OffloadedExperts(host, sharedHost == null, slots, transfers, engine, plan);
        }
        catch
        {
            transfers?.Dispose();
            slots?.Dispose();
            if (sharedHost == null) host.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Engine.Dispose();
        transfers.Dispose();
        slots.Dispose();
        if (ownsHost) host.Dispose();
    }
}
