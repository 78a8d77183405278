namespace Toolkit.Runtime.Cuda;

/// <summary>
/// A retained primary context of one device. Driver calls need a current context on the calling thread;
/// every operation of this toolkit makes its context current first (<see cref="MakeCurrent"/>), so the
/// objects can be used from any thread. Dispose releases the retain (after the objects made with it).
/// </summary>
public sealed class CudaContext : IDisposable
{
    readonly int device;
    IntPtr handle;

    /// <summary>The device ordinal.</summary>
    public int DeviceIndex { get; }

    /// <summary>The CUcontext handle.</summary>
    public IntPtr Handle => handle != IntPtr.Zero ? handle : throw new ObjectDisposedException(nameof(CudaContext),
        "This CudaContext has been disposed. Dispose its streams, events and buffers before it, and retain a new one (CudaDriver.RetainPrimaryContext) to go on.");

    internal CudaContext(int device, int index, IntPtr handle) => (this.device, DeviceIndex, this.handle) = (device, index, handle);

    /// <summary>Makes this context current on the calling thread (cheap when it already is).</summary>
    public void MakeCurrent()
    {
        IntPtr wanted = Handle;
        CudaErrors.Check(NativeMethods.cuCtxGetCurrent(out IntPtr current), "cuCtxGetCurrent");
        if (current != wanted) CudaErrors.Check(NativeMethods.cuCtxSetCurrent(wanted), "cuCtxSetCurrent", $"device {DeviceIndex}");
    }

    /// <summary>Free and total device memory in bytes.</summary>
    public (long Free, long Total) MemoryInfo()
    {
        MakeCurrent();
        CudaErrors.Check(NativeMethods.cuMemGetInfo_v2(out nuint free, out nuint total), "cuMemGetInfo_v2", $"device {DeviceIndex}");
        return ((long)free, (long)total);
    }

    /// <summary>
    /// The device's stream priorities: Least (the default, numerically largest) and Greatest (the most
    /// urgent, numerically smallest). Lower numbers run first.
    /// </summary>
    public (int Least, int Greatest) StreamPriorityRange()
    {
        MakeCurrent();
        CudaErrors.Check(NativeMethods.cuCtxGetStreamPriorityRange(out int least, out int greatest), "cuCtxGetStreamPriorityRange");
        return (least, greatest);
    }

    public void Dispose()
    {
        if (handle == IntPtr.Zero) return;
        handle = IntPtr.Zero;
        CudaErrors.CheckRelease(NativeMethods.cuDevicePrimaryCtxRelease_v2(device), "cuDevicePrimaryCtxRelease_v2", $"device {DeviceIndex}");
    }
}
