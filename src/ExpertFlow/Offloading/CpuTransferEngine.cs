using System.Collections.Concurrent;
using System.Diagnostics;

namespace ExpertFlow.Offloading;

/// <summary>
/// CPU transfer engine: one copy thread with two queues (demand before prefetch) copies experts from the
/// host tier (arena memcpy or a disk read) into CPU slots, so copies overlap the compute thread. Compute on
/// the CPU is synchronous, so a slot is free as soon as the runtime releases it (no fences needed).
/// </summary>
public sealed class CpuTransferEngine : ITransferEngine
{
    readonly IExpertStore store;
    readonly SlotPool slots;
    readonly ConcurrentQueue<CpuTransfer> demand = new(), prefetch = new();
    readonly SemaphoreSlim pending = new(0);
    readonly Thread worker;
    readonly CancellationTokenSource stop = new();
    Exception? failure;

    public CpuTransferEngine(IExpertStore store, SlotPool slots)
    {
        if (slots.Device.type != TorchSharp.DeviceType.CPU) throw new ArgumentException("the CPU transfer engine needs CPU slots");
        this.store = store;
        this.slots = slots;
        worker = new Thread(Run) { IsBackground = true, Name = "expert-copy" };
        worker.Start();
    }

    public ITransfer Start(ExpertKey key, int slot, TransferPriority priority, IComputeFence? slotFree)
    {
        if (failure != null) throw new InvalidOperationException("an expert copy failed", failure);
        var t = new CpuTransfer(key, slot);
        (priority == TransferPriority.Prefetch ? prefetch : demand).Enqueue(t);
        pending.Release();
        return t;
    }

    public double MakeComputeWait(ITransfer transfer)
    {
        var t = (CpuTransfer)transfer;
        if (t.IsComplete) return 0;
        long start = Stopwatch.GetTimestamp();
        t.Done.Wait();
        if (t.Error != null) throw new InvalidOperationException($"copying expert {t.Key} failed: {t.Error.Message}", t.Error);
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    public void WaitOnHost(ITransfer transfer) => MakeComputeWait(transfer);
    public IComputeFence? RecordComputeFence(int slot) => null;
    public (double Stall, double DemandCopy) CollectDeviceTimes() => (0, 0);

    void Run()
    {
        try
        {
            while (true)
            {
                pending.Wait(stop.Token);
                if (!demand.TryDequeue(out var t) && !prefetch.TryDequeue(out t)) continue;
                try { store.ReadInto(t.Key, slots.HostSpan(t.Slot)); }
                catch (Exception e) { t.Error = e; failure = e; }
                t.Done.Set();
            }
        }
        catch (OperationCanceledException) { }
    }

    public void Dispose()
    {
        stop.Cancel();
        worker.Join();
        stop.Dispose();
        pending.Dispose();
    }

    sealed class CpuTransfer(ExpertKey key, int slot) : ITransfer
    {
        public ExpertKey Key { get; } = key;
        public int Slot { get; } = slot;
        public ManualResetEventSlim Done { get; } = new(false);
        public Exception? Error { get; set; }
        public bool IsComplete => Done.IsSet;
    }
}
