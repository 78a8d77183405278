using Toolkit.Runtime;
using ExpertFlow.Offloading.Policies;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using static TorchSharp.torch;

namespace ExpertFlow.Offloading;

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
    /// Plans the budget (a clear error when it cannot hold the footprint plus the policy's minimum), fills the host tier
    /// (unless <see cref="OffloadServices.SharedHost"/> is given), allocates the slots and starts the policy (all-resident
    /// loads everything and waits). On a CPU device the footprint is ignored: the budget bounds the cached experts only.
    /// </summary>
    public static OffloadedExperts Create(IExpertSource source, Device device, DeviceFootprint footprint, OffloadOptions options, OffloadServices? services = null)
    {
        services ??= new OffloadServices();
        var log = services.Log ?? NullLogger.Instance;
        var policy = services.Policy ?? PolicyFactory.Create(options.Policy, services.Forecast, options.Predictive);
        bool hostCompute = options.Policy.HostCompute;
        var sharedHost = services.SharedHost;
        var measureDeviceBytes = services.MeasureDeviceBytes;
        var layout = source.Layout;
        bool cuda = device.type == TorchSharp.DeviceType.CUDA;
        if (!cuda) footprint = DeviceFootprint.None; // on CPU the budget bounds the RAM of cached experts only
        var plan = PlanFor(layout, device, footprint, options, policy);
        log.LogInformation("memory plan ({Policy}): budget {Budget}, footprint {Footprint}, {Slots} of {Total} experts cached ({Fraction:P0}), {SlotBytes} of slots",
            policy.Name, MemorySize.Format(plan.BudgetBytes), MemorySize.Format(footprint.Total), plan.Slots, plan.TotalExperts, plan.CachedFraction, MemorySize.Format(plan.SlotBytes));

        var host = sharedHost ?? HostExperts.Create(source, device, options.Tier, log);
        SlotPool? slots = null;
        ITransferEngine? transfers = null;
        try
        {
            slots = new SlotPool(layout, plan.Slots, device);
            transfers = cuda ? new CudaTransferEngine(host.Context!, host.Store, host.Pinned, slots) : new CpuTransferEngine(host.Store, slots);
            var stats = new OffloadStats(layout, plan, policy.Name + (hostCompute ? "+cpu" : ""), device.ToString(), host.Store.Tier);
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

    /// <summary>The memory plan a run of <paramref name="policy"/> over these experts would get (a clear error when the budget is too small).</summary>
    public static MemoryPlan PlanFor(ExpertLayout layout, Device device, DeviceFootprint footprint, OffloadOptions options, IOffloadPolicy policy)
    {
        if (device.type != TorchSharp.DeviceType.CUDA) footprint = DeviceFootprint.None;
        return MemoryPlan.Create(options.Memory.Resolve(footprint, layout), footprint, layout, policy.RequiredSlots(layout), policy.Name);
    }

    public void Dispose()
    {
        Engine.Dispose();
        transfers.Dispose();
        slots.Dispose();
        if (ownsHost) host.Dispose();
    }
}
