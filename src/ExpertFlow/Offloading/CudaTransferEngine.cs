using Toolkit.Runtime.Cuda;

namespace ExpertFlow.Offloading;

/// <summary>
/// CUDA transfer engine: a high-priority on-demand copy stream and a low-priority prefetch stream
/// (non-blocking, so copies overlap TorchSharp's compute on the legacy default stream), one copy event and
/// one compute fence event per slot. Compute waits for a slot's copy with cuStreamWaitEvent (the host never
/// blocks); a copy into a slot first waits for the fence recorded on the compute stream after the slot's
/// last use. Stalls are measured on the device with timing events around each wait; demand copies are
/// timed to give the achieved bandwidth. Host tiers that are not pinned go through two pinned staging
/// buffers (synchronous host read, async copy).
/// </summary>
public sealed class CudaTransferEngine : ITransferEngine
{
    readonly CudaContext context;
    readonly IExpertStore store;
    readonly IPinnedHostMemory? arena;
    readonly SlotPool slots;
    readonly CudaStream demand, prefetch;
    readonly CudaEvent[] copyDone, computeDone;
    readonly int[] copyGeneration;
    readonly List<(CudaEvent Start, CudaEvent End)> stallTimers = [], copyTimers = [];
    readonly Stack<CudaEvent> spareTimers = new();
    readonly PinnedHostBuffer[] staging = [];
    readonly CudaEvent[] stagingFree = [];
    int nextStaging;

    /// <param name="context">The primary context of the slots' device.</param>
    /// <param name="store">The host tier; its arena must be <paramref name="arena"/> when pinned.</param>
    /// <param name="arena">The pinned memory behind the store's host pointers, or null (staged copies).</param>
    /// <param name="slots">CUDA slots on the context's device.</param>
    public CudaTransferEngine(CudaContext context, IExpertStore store, IPinnedHostMemory? arena, SlotPool slots)
    {
        if (slots.Device.type != TorchSharp.DeviceType.CUDA || slots.Device.index != context.DeviceIndex)
            throw new ArgumentException($"the slots are on {slots.Device}, the CUDA context is cuda:{context.DeviceIndex}");
        this.context = context;
        this.store = store;
        this.arena = store.IsPinned ? arena ?? throw new ArgumentException("a pinned store needs its pinned arena") : null;
        this.slots = slots;
        demand = CudaStream.Create(context, CudaStreamPriority.High);
        prefetch = CudaStream.Create(context, CudaStreamPriority.Low);
        copyDone = Enumerable.Range(0, slots.Count).Select(_ => CudaEvent.Create(context)).ToArray();
        computeDone = Enumerable.Range(0, slots.Count).Select(_ => CudaEvent.Create(context)).ToArray();
        copyGeneration = new int[slots.Count];
        if (this.arena == null)
        {
            staging = [PinnedHostBuffer.Allocate(context, slots.Layout.BytesPerExpert), PinnedHostBuffer.Allocate(context, slots.Layout.BytesPerExpert)];
            stagingFree = [CudaEvent.Create(context), CudaEvent.Create(context)];
        }
    }

    public ITransfer Start(ExpertKey key, int slot, TransferPriority priority, IComputeFence? slotFree)
    {
        var stream = priority == TransferPriority.Prefetch ? prefetch : demand;
        if (slotFree is SlotFence { IsComplete: false } fence) stream.Wait(computeDone[fence.Slot]);
        long bytes = slots.Layout.BytesPerExpert;
        CudaEvent? start = null, end = null;
        if (priority == TransferPriority.Demand) { start = Timer(); end = Timer(); start.Record(stream); }
        if (arena != null && store.TryGetHostPointer(key, out IntPtr source))
        {
            stream.CopyToTensor(arena, source - arena.Pointer, slots.Storage(slot));
        }
        else
        {
            // Stage through pinned memory: wait until the buffer's previous copy has read it.
            int b = nextStaging++ % staging.Length;
            stagingFree[b].Synchronize();
            store.ReadInto(key, staging[b].AsSpan(0, checked((int)bytes)));
            stream.CopyToTensor(staging[b], 0, slots.Storage(slot));
            stagingFree[b].Record(stream);
        }
        if (start != null && end != null) { end.Record(stream); copyTimers.Add((start, end)); }
        copyDone[slot].Record(stream);
        return new SlotCopy(this, slot, ++copyGeneration[slot]);
    }

    public double MakeComputeWait(ITransfer transfer)
    {
        var copy = (SlotCopy)transfer;
        if (copy.IsComplete) return 0;
        var start = Timer();
        var end = Timer();
        TorchDefaultStream.Record(start);
        TorchDefaultStream.Wait(copyDone[copy.Slot]);
        TorchDefaultStream.Record(end);
        stallTimers.Add((start, end));
        return 0;
    }

    public void WaitOnHost(ITransfer transfer) => copyDone[((SlotCopy)transfer).Slot].Synchronize();

    public IComputeFence? RecordComputeFence(int slot)
    {
        TorchDefaultStream.Record(computeDone[slot]);
        return new SlotFence(this, slot);
    }

    public (double Stall, double DemandCopy) CollectDeviceTimes() => (Drain(stallTimers), Drain(copyTimers));

    double Drain(List<(CudaEvent Start, CudaEvent End)> timers)
    {
        double seconds = 0;
        foreach (var (start, end) in timers)
        {
            end.Synchronize();
            seconds += CudaEvent.ElapsedMilliseconds(start, end) / 1000.0;
            spareTimers.Push(start);
            spareTimers.Push(end);
        }
        timers.Clear();
        return seconds;
    }

    CudaEvent Timer() => spareTimers.Count > 0 ? spareTimers.Pop() : CudaEvent.Create(context, timing: true);

    public void Dispose()
    {
        demand.Synchronize();
        prefetch.Synchronize();
        foreach (var e in copyDone.Concat(computeDone).Concat(stagingFree).Concat(spareTimers)) e.Dispose();
        foreach (var (s, e) in stallTimers.Concat(copyTimers)) { s.Dispose(); e.Dispose(); }
        foreach (var b in staging) b.Dispose();
        demand.Dispose();
        prefetch.Dispose();
    }

    sealed class SlotCopy(CudaTransferEngine engine, int slot, int generation) : ITransfer
    {
        public int Slot => slot;
        // A newer copy into the slot supersedes this one: it was waited for (or evicted) already.
        public bool IsComplete => generation != engine.copyGeneration[slot] || engine.copyDone[slot].IsComplete;
    }

    sealed class SlotFence(CudaTransferEngine engine, int slot) : IComputeFence
    {
        public int Slot => slot;
        public bool IsComplete => engine.computeDone[slot].IsComplete;
    }
}
