using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace Toolkit.Runtime.Cuda;

/// <summary>What the driver reports about one GPU.</summary>
/// <param name="Index">Device ordinal (as CUDA_VISIBLE_DEVICES numbers them).</param>
/// <param name="Name">Marketing name, e.g. "NVIDIA H200".</param>
/// <param name="TotalBytes">Total device memory.</param>
/// <param name="FreeBytes">Free device memory as seen from the device's primary context.</param>
public sealed record CudaDeviceInfo(int Index, string Name, long TotalBytes, long FreeBytes);

/// <summary>
/// The CUDA driver (libcuda.so.1), opened once per process. Where there is no driver library or no device,
/// <see cref="TryOpen"/> answers false with the reason; nothing crashes. Work happens in a device's
/// primary context (<see cref="RetainPrimaryContext"/>), the same context libtorch uses, so streams,
/// events and pinned memory made here work with TorchSharp tensors.
/// </summary>
public sealed class CudaDriver
{
    static readonly Lock Gate = new();
    static CudaDriver? opened;
    static string? failure;
    static volatile bool libraryLoaded;

    /// <summary>True once libcuda.so.1 is loaded in this process (error names then come from the driver).</summary>
    internal static bool LibraryLoaded => libraryLoaded;

    /// <summary>Number of visible CUDA devices (at least one).</summary>
    public int DeviceCount { get; }

    /// <summary>Driver version as CUDA encodes it (1000 * major + 10 * minor, e.g. 13000 for 13.0).</summary>
    public int DriverVersion { get; }

    /// <summary>Driver version as "major.minor".</summary>
    public string DriverVersionText => $"{DriverVersion / 1000}.{DriverVersion % 1000 / 10}";

    CudaDriver(int deviceCount, int driverVersion) => (DeviceCount, DriverVersion) = (deviceCount, driverVersion);

    /// <summary>
    /// Opens the driver: loads libcuda.so.1, initialises it and counts devices. Returns false with a reason
    /// (no driver library, initialisation failure, no device) instead of throwing. The result is cached.
    /// </summary>
    public static bool TryOpen([NotNullWhen(true)] out CudaDriver? driver, out string reason)
    {
        lock (Gate)
        {
            if (opened == null && failure == null)
            {
                if (TryOpenCore(NativeMethods.Library, out var d, out var why)) opened = d;
                else failure = why;
            }
            driver = opened;
            reason = failure ?? "";
            return driver != null;
        }
    }

    /// <summary>Opens the driver or throws <see cref="CudaNotAvailableException"/> saying why it cannot.</summary>
    public static CudaDriver Open() =>
        TryOpen(out var driver, out string reason) ? driver : throw new CudaNotAvailableException(reason);

    /// <summary>True when a CUDA driver and at least one device are present; otherwise the reason.</summary>
    public static bool IsAvailable(out string reason) => TryOpen(out _, out reason);

    /// <summary>
    /// The opening steps. <paramref name="library"/> is only probed for loading (tests pass a missing name
    /// to exercise the no-driver path); the calls themselves always go to libcuda.so.1.
    /// </summary>
    internal static bool TryOpenCore(string library, [NotNullWhen(true)] out CudaDriver? driver, out string reason)
    {
        driver = null;
        if (!NativeLibrary.TryLoad(library, out _))
        {
            reason = $"{library} (the NVIDIA driver library) was not found. Install the NVIDIA driver, or run on a machine with an NVIDIA GPU; CPU work is unaffected.";
            return false;
        }
        if (library == NativeMethods.Library) libraryLoaded = true;
        int result;
        try { result = NativeMethods.cuInit(0); }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            reason = $"{NativeMethods.Library} could not be called ({e.Message}); it does not look like an NVIDIA driver library.";
            return false;
        }
        if (result != CudaErrors.Success)
        {
            reason = $"cuInit failed with {CudaErrors.Name(result)} ({result}): {CudaErrors.Description(result)}. {CudaErrors.Advice(result)}";
            return false;
        }
        result = NativeMethods.cuDeviceGetCount(out int count);
        if (result != CudaErrors.Success || count == 0)
        {
            reason = result != CudaErrors.Success
                ? $"cuDeviceGetCount failed with {CudaErrors.Name(result)} ({result}). {CudaErrors.Advice(result)}"
                : "the NVIDIA driver reports no CUDA device. " + CudaErrors.Advice(CudaErrors.NoDevice);
            return false;
        }
        CudaErrors.Check(NativeMethods.cuDriverGetVersion(out int version), "cuDriverGetVersion");
        driver = new CudaDriver(count, version);
        reason = "";
        return true;
    }

    /// <summary>The device's name, e.g. "NVIDIA H200".</summary>
    public unsafe string DeviceName(int index)
    {
        int device = Device(index);
        byte* name = stackalloc byte[256];
        CudaErrors.Check(NativeMethods.cuDeviceGetName(name, 256, device), "cuDeviceGetName", $"device {index}");
        return Marshal.PtrToStringUTF8((IntPtr)name) ?? "";
    }

    /// <summary>The device's total memory in bytes.</summary>
    public long DeviceTotalMemory(int index)
    {
        int device = Device(index);
        CudaErrors.Check(NativeMethods.cuDeviceTotalMem_v2(out nuint bytes, device), "cuDeviceTotalMem_v2", $"device {index}");
        return (long)bytes;
    }

    /// <summary>Name, total and free memory. Free memory needs the primary context (it is created if needed).</summary>
    public CudaDeviceInfo Describe(int index)
    {
        using var context = RetainPrimaryContext(index);
        var (free, total) = context.MemoryInfo();
        return new CudaDeviceInfo(index, DeviceName(index), total, free);
    }

    /// <summary>
    /// Retains the device's primary context (the one libtorch uses) and makes it current on the calling
    /// thread. Dispose the result to release it. Keep it alive while its streams, events and buffers live.
    /// </summary>
    public CudaContext RetainPrimaryContext(int index)
    {
        int device = Device(index);
        CudaErrors.Check(NativeMethods.cuDevicePrimaryCtxRetain(out IntPtr handle, device), "cuDevicePrimaryCtxRetain", $"device {index}");
        var context = new CudaContext(device, index, handle);
        context.MakeCurrent();
        return context;
    }

    int Device(int index)
    {
        if (index < 0 || index >= DeviceCount)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"CUDA device {index} does not exist: there are {DeviceCount} device(s), numbered from 0.");
        CudaErrors.Check(NativeMethods.cuDeviceGet(out int device, index), "cuDeviceGet", $"device {index}");
        return device;
    }
}
