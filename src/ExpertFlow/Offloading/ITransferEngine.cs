namespace ExpertFlow.Offloading;

/// <summary>
/// Moves expert bytes from the host tier into slots. On CUDA: copy streams and events (compute waits on
/// the device, not the host); on CPU: a copy thread and memcpy. All calls come from the compute thread.
/// </summary>
public interface ITransferEngine : IDisposable
{
    /// <summary>Starts copying <paramref name="key"/> into <paramref name="slot"/>; the copy does not
    /// start before <paramref name="slotFree"/> has passed (the slot's previous contents are no longer read).</summary>
    ITransfer Start(ExpertKey key, int slot, TransferPriority priority, IComputeFence? slotFree);

    /// <summary>
    /// Makes compute wait for the transfer. CUDA: the compute stream waits on the copy's event (the host
    /// does not block). CPU: blocks. Returns the host seconds spent blocked.
    /// </summary>
    double MakeComputeWait(ITransfer transfer);

    /// <summary>Blocks the host until the transfer is done (used for the initial all-resident load).</summary>
    void WaitOnHost(ITransfer transfer);

    /// <summary>Records the slot's fence on the compute stream: everything enqueued so far that reads the slot is before it.</summary>
    IComputeFence? RecordComputeFence(int slot);

    /// <summary>
    /// Device-measured seconds since the last call (CUDA event timing): time the compute stream waited on
    /// copies, and time the demand stream spent copying. Zeros where waits block the host and are counted there.
    /// </summary>
    (double Stall, double DemandCopy) CollectDeviceTimes();
}
