using TorchSharp;

namespace Toolkit.Runtime.Cuda;

/// <summary>How urgent a stream's work is. High: on-demand loads a computation waits for; Low: prefetch.</summary>
public enum CudaStreamPriority
{
    /// <summary>The device's least priority (also the default of ordinary streams).</summary>
    Low,
    /// <summary>The device's greatest priority: its work is scheduled before Low streams' work.</summary>
    High,
}

/// <summary>
/// A non-blocking CUDA stream (CU_STREAM_NON_BLOCKING): its work does not serialise with the legacy
/// default stream TorchSharp computes on, so copies here overlap TorchSharp kernels. Order against
/// TorchSharp explicitly with events (<see cref="CudaEvent"/>, <see cref="TorchDefaultStream"/>).
/// Copies are asynchronous: keep the host memory and tensors alive and unchanged until an event recorded
/// after them has completed. Async copies need page-locked host memory (<see cref="PinnedHostBuffer"/>,
/// <see cref="HostRegistration"/>) to overlap; from ordinary memory the driver stages them synchronously.
/// </summary>
public sealed class CudaStream : IDisposable
{
    IntPtr handle;

    /// <summary>The context (device) this stream belongs to.</summary>
    public CudaContext Context { get; }

    /// <summary>The numeric priority given to the driver (lower runs first).</summary>
    public int Priority { get; }

    /// <summary>The CUstream handle.</summary>
    public IntPtr Handle => handle != IntPtr.Zero ? handle : throw new ObjectDisposedException(nameof(CudaStream));

    CudaStream(CudaContext context, IntPtr handle, int priority) => (Context, this.handle, Priority) = (context, handle, priority);

    /// <summary>Creates a non-blocking stream with the device's least or greatest priority.</summary>
    public static CudaStream Create(CudaContext context, CudaStreamPriority priority = CudaStreamPriority.Low)
    {
        var (least, greatest) = context.StreamPriorityRange();
        return CreateWithPriority(context, priority == CudaStreamPriority.High ? greatest : least);
    }

    /// <summary>Creates a non-blocking stream with a numeric priority within <see cref="CudaContext.StreamPriorityRange"/>.</summary>
    public static CudaStream CreateWithPriority(CudaContext context, int priority)
    {
        var (least, greatest) = context.StreamPriorityRange();
        if (priority > least || priority < greatest)
            throw new ArgumentOutOfRangeException(nameof(priority), priority, $"Stream priority must lie between {greatest} (greatest) and {least} (least) on cuda:{context.DeviceIndex}.");
        CudaErrors.Check(NativeMethods.cuStreamCreateWithPriority(out IntPtr stream, NativeMethods.CU_STREAM_NON_BLOCKING, priority), "cuStreamCreateWithPriority");
        return new CudaStream(context, stream, priority);
    }

    /// <summary>Blocks the calling thread until all work queued on this stream has finished.</summary>
    public void Synchronize()
    {
        Context.MakeCurrent();
        CudaErrors.Check(NativeMethods.cuStreamSynchronize(Handle), "cuStreamSynchronize");
    }

    /// <summary>Later work on this stream waits (on the GPU, not the CPU) until the event's work is done.</summary>
    public void Wait(CudaEvent @event)
    {
        Context.MakeCurrent();
        CudaErrors.Check(NativeMethods.cuStreamWaitEvent(Handle, @event.Handle, 0), "cuStreamWaitEvent");
    }

    /// <summary>Records the event on this stream (it completes when the work queued so far is done).</summary>
    public void Record(CudaEvent @event) => @event.Record(this);

    /// <summary>Queues a copy of the whole tensor's bytes from page-locked host memory at <paramref name="sourceOffset"/> into the tensor's storage.</summary>
    public void CopyToTensor(IPinnedHostMemory source, long sourceOffset, torch.Tensor destination)
    {
        ArgumentNullException.ThrowIfNull(source);
        long bytes = TensorMemory.ByteSize(destination, nameof(destination));
        TensorMemory.CheckHostRange(source.Length, sourceOffset, bytes, nameof(source));
        ulong address = TensorMemory.DeviceAddress(destination, Context.DeviceIndex, bytes, nameof(destination));
        CopyHostToDevice(source.Pointer + (nint)sourceOffset, address, bytes);
    }

    /// <summary>Queues a copy of the whole tensor's bytes into page-locked host memory at <paramref name="destinationOffset"/>.</summary>
    public void CopyFromTensor(torch.Tensor source, IPinnedHostMemory destination, long destinationOffset)
    {
        ArgumentNullException.ThrowIfNull(destination);
        long bytes = TensorMemory.ByteSize(source, nameof(source));
        TensorMemory.CheckHostRange(destination.Length, destinationOffset, bytes, nameof(destination));
        ulong address = TensorMemory.DeviceAddress(source, Context.DeviceIndex, bytes, nameof(source));
        CopyDeviceToHost(address, destination.Pointer + (nint)destinationOffset, bytes);
    }

    /// <summary>Queues a copy from page-locked host memory into a range of a device buffer.</summary>
    public void CopyToDevice(IPinnedHostMemory source, long sourceOffset, CudaDeviceBuffer destination, long destinationOffset, long bytes)
    {
        TensorMemory.CheckHostRange(source.Length, sourceOffset, bytes, nameof(source));
        TensorMemory.CheckHostRange(destination.Length, destinationOffset, bytes, nameof(destination));
        CopyHostToDevice(source.Pointer + (nint)sourceOffset, destination.Address + (ulong)destinationOffset, bytes);
    }

    /// <summary>Raw host-to-device copy (no checks beyond the driver's). Prefer the tensor overloads.</summary>
    public void CopyHostToDevice(IntPtr source, ulong destination, long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (bytes == 0) return;
        Context.MakeCurrent();
        CudaErrors.Check(NativeMethods.cuMemcpyHtoDAsync_v2(destination, source, (nuint)bytes, Handle), "cuMemcpyHtoDAsync_v2", $"{bytes} bytes");
    }

    /// <summary>Raw device-to-host copy (no checks beyond the driver's). Prefer the tensor overloads.</summary>
    public void CopyDeviceToHost(ulong source, IntPtr destination, long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (bytes == 0) return;
        Context.MakeCurrent();
        CudaErrors.Check(NativeMethods.cuMemcpyDtoHAsync_v2(destination, source, (nuint)bytes, Handle), "cuMemcpyDtoHAsync_v2", $"{bytes} bytes");
    }

    public void Dispose()
    {
        if (handle == IntPtr.Zero) return;
        IntPtr h = handle;
        handle = IntPtr.Zero;
        Context.MakeCurrent();
        CudaErrors.CheckRelease(NativeMethods.cuStreamDestroy_v2(h), "cuStreamDestroy_v2");
    }
}
