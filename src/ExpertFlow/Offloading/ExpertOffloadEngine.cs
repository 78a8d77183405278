using System.Diagnostics;
using ExpertFlow.Model;
using ExpertFlow.Offloading.Policies;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using static TorchSharp.torch;

namespace ExpertFlow.Offloading;

/// <summary>
/// The expert cache: a residency map over preallocated device slots, driven by the runtime through
/// <see cref="BeginStep"/>, <see cref="OnRouted"/>, <see cref="Get"/>, <see cref="Release"/>,
/// <see cref="OnLayerDone"/> and <see cref="EndStep"/>, and shaped by an <see cref="IOffloadPolicy"/>.
/// Misses are loaded on the demand stream as soon as the router decides, so they overlap the compute of
/// the experts already present; compute waits only for the expert it is about to use. A slot is never
/// overwritten while leased, nor (on CUDA) before the compute that read it has passed its fence.
/// Single-threaded: all calls come from the compute thread.
/// </summary>
public sealed class ExpertOffloadEngine : ICacheControl, IDisposable
{
    const int Empty = -1;

    readonly SlotPool slots;
    readonly ITransferEngine transfers;
    readonly IOffloadPolicy policy;
    readonly ILogger log;
    readonly Func<long>? measureDeviceBytes;
    readonly bool implicitRelease;

    // Per slot.
    readonly int[] slotExpert;            // dense expert index, or Empty
    readonly ITransfer?[] slotTransfer;   // copy not yet waited for by compute
    readonly TransferPriority[] slotLoadedBy;
    readonly IComputeFence?[] slotFence;  // compute that last read the slot
    readonly int[] slotLeases;
    readonly long[] slotLastUse, slotLoadedAt;
    readonly int[] slotUses;
    readonly bool[] slotEvictFirst;
    // Per expert (dense index).
    readonly int[] expertSlot;
    readonly bool[] countedThisLayer;
    // Per MoE layer position.
    readonly int[] layerOccupancy;
    int[]? quotas;

    readonly HashSet<int> wanted = [];       // routed for the current layer, not yet used
    readonly HashSet<int> onHost = [];       // routed for the current layer, computed on the host (no copy)
    readonly IExpertStore? hostStore;        // host compute: the arena the host computes from
    readonly HostComputePlanner? hostPlanner;    // host compute: which misses the host computes
    long demandTransfersSeen;
    readonly List<int> pendingMisses = [];   // routed misses not yet issued (no free slot at the time)
    int currentLayer = -1;
    long layerStartTicks, layerEndTicks; // host phases of decode steps (OffloadStats.HostInLayerSeconds and HostBetweenLayersSeconds)
    long now;
    long stepStartTicks;
    bool inStep, decodeStep;

    /// <summary>
    /// <paramref name="hostCompute"/>: the host tier, to compute missed experts on the host CPU straight from it (see
    /// <see cref="PlanHostCompute"/>); null: every miss is copied.
    /// </summary>
    public ExpertOffloadEngine(SlotPool slots, ITransferEngine transfers, IOffloadPolicy policy, OffloadStats stats,
        ILogger? log = null, Func<long>? measureDeviceBytes = null, bool implicitRelease = false, IExpertStore? hostCompute = null)
    {
        Layout = slots.Layout;
        this.slots = slots;
        this.transfers = transfers;
        this.policy = policy;
        Stats = stats;
        this.log = log ?? NullLogger.Instance;
        this.measureDeviceBytes = measureDeviceBytes;
        this.implicitRelease = implicitRelease;
        int n = slots.Count;
        if (policy.RequiredSlots(Layout) is int required && n < Math.Min(required, Layout.TotalExperts))
            throw new ArgumentException($"policy '{policy.Name}' needs {required} slots, the budget gives {n}");
        if (n < 1) throw new ArgumentException("the expert cache needs at least one slot");
        slotExpert = Enumerable.Repeat(Empty, n).ToArray();
        slotTransfer = new ITransfer?[n];
        slotLoadedBy = new TransferPriority[n];
        slotFence = new IComputeFence?[n];
        slotLeases = new int[n];
        slotLastUse = new long[n];
        slotLoadedAt = new long[n];
        slotUses = new int[n];
        slotEvictFirst = new bool[n];
        expertSlot = Enumerable.Repeat(Empty, Layout.TotalExperts).ToArray();
        countedThisLayer = new bool[Layout.TotalExperts];
        layerOccupancy = new int[Layout.MoeLayers.Count];
        policy.Attach(this);
        if (hostCompute != null && !hostCompute.TryGetHostPointer(Layout.KeyAt(0), out _))
            throw new ArgumentException($"host compute (+cpu) needs the experts in a host arena; the '{hostCompute.Tier}' tier reads them from disk (use the arena host tier)");
        hostStore = hostCompute;
        if (hostCompute != null) hostPlanner = new HostComputePlanner(slots.Device.type == TorchSharp.DeviceType.CPU);
        Stats.Sample(CachedBytes, Measure());
    }

    public ExpertLayout Layout { get; }
    public OffloadStats Stats { get; }
    public int SlotCount => slots.Count;
    public long Now => now;
    public int Step { get; private set; }
    public IOffloadPolicy Policy => policy;
    long CachedBytes => slotExpert.Count(e => e != Empty) * Layout.BytesPerExpert;

    // ---------------------------------------------------------------- runtime seam

    /// <summary>A forward pass over the batch (prefill or one decode step) begins.</summary>
    public void BeginStep(StepInfo? info = null)
    {
        if (inStep) EndStep(0);
        inStep = true;
        stepStartTicks = Stopwatch.GetTimestamp();
        info ??= new StepInfo(Step, Step == 0, [], [], []);
        decodeStep = !info.IsPrefill;
        layerEndTicks = 0;
        policy.OnStepStart(info);
    }

    /// <summary>True between <see cref="BeginStep"/> and <see cref="EndStep"/>.</summary>
    public bool InStep => inStep;

    /// <summary>The router of <paramref name="layer"/> picked these experts (any order, repeats allowed).</summary>
    public void OnRouted(int layer, IEnumerable<int> experts)
    {
        int position = Layout.PositionOf(layer);
        if (currentLayer != layer) FinishLayerIfOpen();
        currentLayer = layer;
        layerStartTicks = Stopwatch.GetTimestamp();
        if (decodeStep && layerEndTicks != 0) Stats.HostBetweenLayersSeconds += Stopwatch.GetElapsedTime(layerEndTicks, layerStartTicks).TotalSeconds;
        var distinct = experts.Distinct().Order().ToArray();
        var missed = new List<int>();
        var layerStats = Stats.Layers[position];
        foreach (int e in distinct)
        {
            int index = Layout.IndexOf(new ExpertKey(layer, e));
            countedThisLayer[index] = true;
            bool hit = expertSlot[index] != Empty;
            Count(layerStats, hit);
            if (onHost.Contains(index)) continue; // a miss the host computes: nothing to load
            wanted.Add(index);
            if (hit) continue;
            missed.Add(e);
        }
        // Misses go to the demand stream now, into slots that no routed expert of this layer occupies.
        foreach (int e in missed)
        {
            int index = Layout.IndexOf(new ExpertKey(layer, e));
            if (Load(index, TransferPriority.Demand, mayEvictWanted: false) == Empty) pendingMisses.Add(index);
        }
        policy.OnRouted(layer, distinct, missed);
    }

    /// <summary>A look-ahead guess of <paramref name="layer"/>'s experts, most likely first (see <see cref="IOffloadPolicy.OnAnticipated"/>).</summary>
    public void Anticipate(int layer, IReadOnlyList<int> experts)
    {
        Stats.AnticipatedLayers++;
        policy.OnAnticipated(layer, experts);
    }

    // ---------------------------------------------------------------- host compute

    /// <summary>True when missed experts may be computed on the host (<c>+cpu</c>).</summary>
    public bool HostCompute => hostPlanner != null;

    /// <summary>
    /// Host compute, decided before <see cref="OnRouted"/>: which of the layer's missed experts the runtime should
    /// compute on the host CPU, straight from the host arena, instead of copying them (<see cref="HostComputePlanner"/>).
    /// Experts in a slot or on their way are never moved to the host. <paramref name="tokens"/>: tokens routed to each of
    /// <paramref name="experts"/>.
    /// </summary>
    public IReadOnlyList<int> PlanHostCompute(int layer, IReadOnlyList<int> experts, IReadOnlyList<int> tokens)
    {
        if (currentLayer != layer) FinishLayerIfOpen();
        currentLayer = layer;
        onHost.Clear();
        if (hostPlanner == null) return [];
        var misses = Enumerable.Range(0, experts.Count).Where(i => expertSlot[Layout.IndexOf(new ExpertKey(layer, experts[i]))] == Empty).ToArray();
        var onHostFlags = hostPlanner.Plan(misses.Select(i => tokens[i]).ToArray());
        var chosen = new List<int>();
        for (int m = 0; m < misses.Length; m++)
        {
            if (!onHostFlags[m]) continue;
            int e = experts[misses[m]];
            onHost.Add(Layout.IndexOf(new ExpertKey(layer, e)));
            chosen.Add(e);
        }
        return chosen;
    }

    /// <summary>
    /// Host compute: a CPU tensor over parts <paramref name="firstPart"/>.. of the expert's host copy (consecutive parts
    /// are contiguous, so gate and up rows form one [2I, H] view), in <paramref name="shape"/>; dispose it after use.
    /// </summary>
    public Tensor HostView(int layer, int expert, int firstPart, int partCount, long[] shape)
    {
        var key = new ExpertKey(layer, expert);
        if (hostStore == null || !hostStore.TryGetHostPointer(key, out IntPtr block))
            throw new InvalidOperationException($"expert {key} has no host copy to compute from");
        var (start, _) = Layout.PartRange(firstPart, partCount, shape);
        return Toolkit.Runtime.HostTensors.View(block + (nint)(start * Layout.ElementSize), shape, Layout.DType);
    }

    /// <summary>Host compute: the runtime computed an expert with <paramref name="tokens"/> tokens in <paramref name="seconds"/>.</summary>
    public void HostComputed(int tokens, double seconds)
    {
        Stats.HostComputedExperts++;
        Stats.HostComputeSeconds += seconds;
        hostPlanner?.HostComputed(tokens, seconds);
    }

    void Count(LayerStats layer, bool hit)
    {
        layer.Requests++;
        if (hit) layer.Hits++; else layer.Misses++;
        if (!decodeStep) return;
        Stats.DecodeRequests++;
        if (hit) Stats.DecodeHits++;
    }

    /// <summary>
    /// Experts in the order compute should take them: ready ones first, then those loading, then those
    /// not yet issued, so the copies hide behind compute.
    /// </summary>
    public IReadOnlyList<int> ComputeOrder(int layer, IReadOnlyList<int> experts) => experts
        .Select(e => (e, rank: Rank(Layout.IndexOf(new ExpertKey(layer, e)))))
        .OrderBy(x => x.rank).ThenBy(x => x.e).Select(x => x.e).ToArray();

    int Rank(int index)
    {
        int s = expertSlot[index];
        if (s == Empty) return 2;
        return slotTransfer[s] is { IsComplete: false } ? 1 : 0;
    }

    /// <summary>
    /// The expert's weights on the compute device (views into its slot, in layout part order). Compute
    /// is made to wait for the expert's copy (on CUDA without blocking the host). The slot stays leased
    /// until <see cref="Release"/> (or the next Get / layer end when implicit release is on).
    /// </summary>
    public IReadOnlyList<Tensor> Get(int layer, int expert) => slots.Parts(GetSlot(layer, expert));

    /// <summary>As <see cref="Get"/>, returning the slot index (for callers that keep their own views of slots).</summary>
    public int GetSlot(int layer, int expert)
    {
        var key = new ExpertKey(layer, expert);
        int index = Layout.IndexOf(key);
        if (currentLayer != layer) { FinishLayerIfOpen(); currentLayer = layer; }
        if (implicitRelease) { ReleaseAllLeases(); IssuePendingMisses(); }
        if (!countedThisLayer[index])
        {
            // The runtime did not announce it through OnRouted: count it here.
            countedThisLayer[index] = true;
            Count(Stats.Layers[Layout.PositionOf(layer)], expertSlot[index] != Empty);
        }
        int slot = expertSlot[index];
        if (slot == Empty)
        {
            pendingMisses.Remove(index);
            slot = Load(index, TransferPriority.Demand, mayEvictWanted: true);
            while (slot == Empty)
            {
                // Every free slot is still loading: wait for one, then evict it. A copy may also have
                // finished since ChooseSlot looked (copies complete concurrently): then simply try again.
                int loading = OldestLoadingUnleased();
                if (loading != Empty) transfers.WaitOnHost(slotTransfer[loading]!);
                else if (slotLeases.All(l => l > 0))
                    throw new InvalidOperationException(
                        $"all {SlotCount} expert slots are leased by layer {layer}; release experts after computing them, or raise the memory budget");
                slot = Load(index, TransferPriority.Demand, mayEvictWanted: true);
            }
        }
        if (slotTransfer[slot] is { } t)
        {
            Stats.HostStallSeconds += transfers.MakeComputeWait(t);
            slotTransfer[slot] = null;
        }
        wanted.Remove(index);
        slotLeases[slot]++;
        slotLastUse[slot] = ++now;
        slotUses[slot]++;
        slotEvictFirst[slot] = false;
        return slot;
    }

    /// <summary>Compute with the expert has been issued; its slot may be reused once that compute has run.</summary>
    public void Release(int layer, int expert)
    {
        int index = Layout.IndexOf(new ExpertKey(layer, expert));
        int slot = expertSlot[index];
        if (slot == Empty || slotLeases[slot] == 0) throw new InvalidOperationException($"expert {new ExpertKey(layer, expert)} is not leased");
        ReleaseSlot(slot);
        IssuePendingMisses();
    }

    /// <summary>All experts of <paramref name="layer"/> have been computed (enqueued).</summary>
    public void OnLayerDone(int layer)
    {
        if (currentLayer == layer) FinishLayerIfOpen();
        else policy.OnLayerDone(layer);
    }

    /// <summary>The step is over; <paramref name="tokens"/> new tokens were produced by it.</summary>
    public void EndStep(int tokens)
    {
        FinishLayerIfOpen();
        if (!inStep) return;
        inStep = false;
        Step++;
        Stats.Steps++;
        Stats.Tokens += tokens;
        Stats.Seconds += Stopwatch.GetElapsedTime(stepStartTicks).TotalSeconds;
        var (stall, demandCopy) = transfers.CollectDeviceTimes();
        Stats.DeviceStallSeconds += stall;
        Stats.DemandCopySeconds += demandCopy;
        hostPlanner?.Copied(Stats.DemandTransfers - demandTransfersSeen, demandCopy);
        demandTransfersSeen = Stats.DemandTransfers;
        policy.OnStepDone();
        Stats.Sample(CachedBytes, Measure());
    }

    /// <summary>Blocks until every copy issued so far is done (e.g. after all-resident preloading).</summary>
    public void WaitForTransfers()
    {
        for (int s = 0; s < SlotCount; s++)
            if (slotTransfer[s] is { } t) transfers.WaitOnHost(t);
    }

    void FinishLayerIfOpen()
    {
        if (currentLayer < 0) return;
        int layer = currentLayer;
        currentLayer = -1;
        layerEndTicks = Stopwatch.GetTimestamp();
        if (decodeStep && layerStartTicks != 0) Stats.HostInLayerSeconds += Stopwatch.GetElapsedTime(layerStartTicks, layerEndTicks).TotalSeconds;
        ReleaseAllLeases();
        foreach (int index in wanted) countedThisLayer[index] = false;
        foreach (int index in onHost) countedThisLayer[index] = false;
        wanted.Clear();
        onHost.Clear();
        pendingMisses.Clear();
        int position = Layout.PositionOf(layer);
        for (int s = 0; s < SlotCount; s++)
        {
            int e = slotExpert[s];
            if (e == Empty || e / Layout.ExpertsPerLayer != position) continue;
            countedThisLayer[e] = false;
            // Correction: predicted for this layer but not routed: evict first.
            if (slotLoadedBy[s] == TransferPriority.Prefetch && slotUses[s] == 0 && !slotEvictFirst[s])
            {
                slotEvictFirst[s] = true;
                Stats.PrefetchWasted++;
            }
        }
        policy.OnLayerDone(layer);
    }

    void ReleaseAllLeases()
    {
        for (int s = 0; s < SlotCount; s++)
            while (slotLeases[s] > 0) ReleaseSlot(s);
    }

    void ReleaseSlot(int slot)
    {
        slotLeases[slot]--;
        if (slotLeases[slot] > 0) return;
        slotFence[slot] = transfers.RecordComputeFence(slot);
        if (!policy.KeepAfterUse) Drop(slot);
    }

    void IssuePendingMisses()
    {
        while (pendingMisses.Count > 0)
        {
            int index = pendingMisses[0];
            if (expertSlot[index] == Empty && Load(index, TransferPriority.Demand, mayEvictWanted: false) == Empty) return;
            pendingMisses.RemoveAt(0);
        }
    }

    // ---------------------------------------------------------------- cache control (for policies)

    public bool IsCachedOrLoading(ExpertKey key) => expertSlot[Layout.IndexOf(key)] != Empty;

    public bool Prefetch(ExpertKey key, TransferPriority priority = TransferPriority.Prefetch)
    {
        int index = Layout.IndexOf(key);
        if (expertSlot[index] != Empty) return true;
        return Load(index, priority, mayEvictWanted: false, speculative: true) != Empty;
    }

    public void SetLayerQuotas(IReadOnlyList<int>? slotsPerLayer)
    {
        if (slotsPerLayer != null && slotsPerLayer.Count != Layout.MoeLayers.Count)
            throw new ArgumentException($"quotas are per MoE layer: {Layout.MoeLayers.Count} values expected, got {slotsPerLayer.Count}");
        quotas = slotsPerLayer?.ToArray();
    }

    public void MarkEvictFirst(ExpertKey key)
    {
        int s = expertSlot[Layout.IndexOf(key)];
        if (s != Empty) slotEvictFirst[s] = true;
    }

    // ---------------------------------------------------------------- loading and eviction

    /// <summary>Puts the expert in a slot (evicting if needed) and starts its copy; Empty when no slot could be freed.</summary>
    int Load(int index, TransferPriority priority, bool mayEvictWanted, bool speculative = false)
    {
        int slot = ChooseSlot(index, mayEvictWanted, speculative);
        if (slot == Empty) return Empty;
        if (slotExpert[slot] != Empty) Drop(slot);
        var key = Layout.KeyAt(index);
        slotTransfer[slot] = transfers.Start(key, slot, priority, slotFence[slot]);
        slotFence[slot] = null;
        slotExpert[slot] = index;
        expertSlot[index] = slot;
        slotLoadedBy[slot] = priority == TransferPriority.Demand && !speculative ? TransferPriority.Demand : TransferPriority.Prefetch;
        slotLoadedAt[slot] = now;
        slotLastUse[slot] = 0;
        slotUses[slot] = 0;
        slotEvictFirst[slot] = false;
        layerOccupancy[index / Layout.ExpertsPerLayer]++;
        if (priority == TransferPriority.Demand) { Stats.DemandTransfers++; Stats.DemandBytes += Layout.BytesPerExpert; }
        else { Stats.PrefetchTransfers++; Stats.PrefetchBytes += Layout.BytesPerExpert; }
        return slot;
    }

    void Drop(int slot)
    {
        int e = slotExpert[slot];
        if (e == Empty) return;
        if (slotLoadedBy[slot] == TransferPriority.Prefetch && slotUses[slot] == 0 && !slotEvictFirst[slot]) Stats.PrefetchWasted++;
        expertSlot[e] = Empty;
        slotExpert[slot] = Empty;
        layerOccupancy[e / Layout.ExpertsPerLayer]--;
    }

    int ChooseSlot(int incoming, bool mayEvictWanted, bool speculative)
    {
        int best = Empty;
        double bestScore = double.MaxValue;
        int incomingLayer = incoming / Layout.ExpertsPerLayer;
        // Restrict candidates by the layer quotas: a layer at its quota recycles its own slots; otherwise
        // take from layers above their quota; otherwise from anyone.
        int scope = 0; // 0: any, 1: own layer only, 2: over-quota layers only
        if (quotas != null)
        {
            if (layerOccupancy[incomingLayer] >= quotas[incomingLayer]) scope = 1;
            else if (Enumerable.Range(0, layerOccupancy.Length).Any(p => layerOccupancy[p] > quotas[p])) scope = 2;
        }
        // A prefetch outside its layer's quota may only displace an expert the policy values less than the incoming one.
        double incomingScore = speculative ? policy.KeepScore(new CachedExpert(Layout.KeyAt(incoming), now, now, 0, true)) : double.MaxValue;
        for (int pass = 0; pass < 2 && best == Empty; pass++)
        {
            for (int s = 0; s < SlotCount; s++)
            {
                int e = slotExpert[s];
                if (e == Empty)
                {
                    if (scope == 1 && pass == 0 && quotas![incomingLayer] > 0) continue; // own layer is full: do not grow it
                    return s;
                }
                if (slotLeases[s] > 0 || slotTransfer[s] is { IsComplete: false }) continue;
                if (!mayEvictWanted && wanted.Contains(e)) continue;
                bool awaited = slotLoadedBy[s] == TransferPriority.Prefetch && slotUses[s] == 0 && !slotEvictFirst[s];
                if (speculative && awaited) continue; // a prediction still waiting for its layer
                int layer = e / Layout.ExpertsPerLayer;
                if (pass == 0 && scope == 1 && layer != incomingLayer) continue;
                if (pass == 0 && scope == 2 && layerOccupancy[layer] <= quotas![layer]) continue;
                var candidate = new CachedExpert(Layout.KeyAt(e), slotLastUse[s], slotLoadedAt[s], slotUses[s], awaited);
                double score = slotEvictFirst[s] ? double.NegativeInfinity : policy.KeepScore(candidate);
                if (pass == 1 && speculative && scope != 0 && score >= incomingScore) continue;
                if (speculative && !slotEvictFirst[s] && !policy.MayDisplace(candidate, Layout.KeyAt(incoming))) continue;
                if (score < bestScore || best == Empty) { best = s; bestScore = score; }
            }
            // Quota restrictions are preferences: a demand load may fall back to any slot; a prefetch only to a slot
            // whose expert the policy values less than the incoming one (checked above).
        }
        return best;
    }

    int OldestLoadingUnleased()
    {
        int best = Empty;
        for (int s = 0; s < SlotCount; s++)
            if (slotExpert[s] != Empty && slotLeases[s] == 0 && slotTransfer[s] is { IsComplete: false } && (best == Empty || slotLoadedAt[s] < slotLoadedAt[best]))
                best = s;
        return best;
    }

    long Measure()
    {
        try { return measureDeviceBytes?.Invoke() ?? -1; }
        catch (Exception e) { log.LogDebug("device memory query failed: {Message}", e.Message); return -1; }
    }

    /// <summary>Checks the bookkeeping (tests): residency map and slots agree, occupancy matches.</summary>
    internal void CheckInvariants()
    {
        var occ = new int[layerOccupancy.Length];
        for (int s = 0; s < SlotCount; s++)
        {
            int e = slotExpert[s];
            if (e == Empty) continue;
            if (expertSlot[e] != s) throw new InvalidOperationException($"slot {s} holds expert {e}, but the map says slot {expertSlot[e]}");
            occ[e / Layout.ExpertsPerLayer]++;
        }
        for (int i = 0; i < expertSlot.Length; i++)
            if (expertSlot[i] != Empty && slotExpert[expertSlot[i]] != i) throw new InvalidOperationException($"expert {i} maps to slot {expertSlot[i]}, which holds {slotExpert[expertSlot[i]]}");
        if (!occ.SequenceEqual(layerOccupancy)) throw new InvalidOperationException("layer occupancy is out of date");
    }

    public void Dispose() { }
}
