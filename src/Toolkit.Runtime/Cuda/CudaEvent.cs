namespace Toolkit.Runtime.Cuda;

/// <summary>
/// A CUDA event: a marker in a stream's work that other streams can wait for and the CPU can poll.
/// Synchronisation events are created without timing (cheaper); timing events measure GPU time.
/// </summary>
public sealed class CudaEvent : IDisposable
{
    IntPtr handle;

    /// <summary>The context (device) this event belongs to.</summary>
    public CudaContext Context { get; }

    /// <summary>True when the event records timestamps (<see cref="ElapsedMilliseconds"/> works).</summary>
    public bool Timing { get; }

    /// <summary>The CUevent handle.</summary>
    public IntPtr Handle => handle != IntPtr.Zero ? handle : throw new ObjectDisposedException(nameof(CudaEvent));

    CudaEvent(CudaContext context, IntPtr handle, bool timing) => (Context, this.handle, Timing) = (context, handle, timing);

    /// <summary>Creates an event; <paramref name="timing"/> false adds CU_EVENT_DISABLE_TIMING.</summary>
    public static CudaEvent Create(CudaContext context, bool timing = false)
    {
        context.MakeCurrent();
        uint flags = timing ? NativeMethods.CU_EVENT_DEFAULT : NativeMethods.CU_EVENT_DISABLE_TIMING;
        CudaErrors.Check(NativeMethods.cuEventCreate(out IntPtr e, flags), "cuEventCreate");
        return new CudaEvent(context, e, timing);
    }

    /// <summary>Records the event at the current end of <paramref name="stream"/>'s work.</summary>
    public void Record(CudaStream stream) => RecordOn(stream.Handle, "cuEventRecord");

    internal void RecordOn(IntPtr stream, string call)
    {
        Context.MakeCurrent();
        CudaErrors.Check(NativeMethods.cuEventRecord(Handle, stream), call);
    }

    /// <summary>True when the work before the last record has finished (or the event was never recorded).</summary>
    public bool IsComplete
    {
        get
        {
            Context.MakeCurrent();
            int result = NativeMethods.cuEventQuery(Handle);
            if (result == CudaErrors.NotReady) return false;
            CudaErrors.Check(result, "cuEventQuery");
            return true;
        }
    }

    /// <summary>Blocks the calling thread until the recorded work has finished.</summary>
    public void Synchronize()
    {
        Context.MakeCurrent();
        CudaErrors.Check(NativeMethods.cuEventSynchronize(Handle), "cuEventSynchronize");
    }

    /// <summary>GPU time in milliseconds from <paramref name="start"/> to <paramref name="end"/> (both timing events, both completed).</summary>
    public static float ElapsedMilliseconds(CudaEvent start, CudaEvent end)
    {
        if (!start.Timing || !end.Timing)
            throw new ArgumentException("Elapsed time needs two timing events: create them with CudaEvent.Create(context, timing: true).");
        start.Context.MakeCurrent();
        CudaErrors.Check(NativeMethods.cuEventElapsedTime(out float ms, start.Handle, end.Handle), "cuEventElapsedTime");
        return ms;
    }

    public void Dispose()
    {
        if (handle == IntPtr.Zero) return;
        IntPtr h = handle;
        handle = IntPtr.Zero;
        Context.MakeCurrent();
        CudaErrors.CheckRelease(NativeMethods.cuEventDestroy_v2(h), "cuEventDestroy_v2");
    }
}

/// <summary>
/// TorchSharp's CUDA stream. TorchSharp has no stream API; libtorch computes on the legacy default stream
/// (handle 0) of the device's primary context. These calls order it against this toolkit's streams.
/// </summary>
public static class TorchDefaultStream
{
    /// <summary>
    /// TorchSharp kernels queued after this call wait (on the GPU) until <paramref name="event"/> has
    /// completed, e.g. until a copy stream has finished loading the weights they read.
    /// </summary>
    public static void Wait(CudaEvent @event)
    {
        @event.Context.MakeCurrent();
        CudaErrors.Check(NativeMethods.cuStreamWaitEvent(NativeMethods.LegacyDefaultStream, @event.Handle, 0), "cuStreamWaitEvent", "TorchSharp's default stream");
    }

    /// <summary>
    /// Records <paramref name="event"/> after the TorchSharp work queued so far, e.g. so that a copy stream
    /// waits until compute has finished reading a slot before overwriting it.
    /// </summary>
    public static void Record(CudaEvent @event) => @event.RecordOn(NativeMethods.LegacyDefaultStream, "cuEventRecord (TorchSharp's default stream)");
}
