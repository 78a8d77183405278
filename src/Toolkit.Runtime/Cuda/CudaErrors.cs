using System.Runtime.InteropServices;

namespace Toolkit.Runtime.Cuda;

/// <summary>
/// CUresult codes: checking, names, descriptions and advice. Names and descriptions come from the driver
/// (cuGetErrorName/cuGetErrorString) once it is loaded, and from the table below otherwise, so that errors
/// read the same with or without a driver.
/// </summary>
internal static class CudaErrors
{
    public const int Success = 0;
    public const int InvalidValue = 1;
    public const int OutOfMemory = 2;
    public const int NotInitialized = 3;
    public const int Deinitialized = 4;
    public const int StubLibrary = 34;
    public const int DeviceUnavailable = 46;
    public const int NoDevice = 100;
    public const int InvalidDevice = 101;
    public const int InvalidContext = 201;
    public const int InvalidHandle = 400;
    public const int NotReady = 600;
    public const int IllegalAddress = 700;
    public const int ContextIsDestroyed = 709;
    public const int HostMemoryAlreadyRegistered = 712;
    public const int HostMemoryNotRegistered = 713;
    public const int LaunchFailed = 719;
    public const int NotPermitted = 800;
    public const int NotSupported = 801;
    public const int SystemNotReady = 802;
    public const int SystemDriverMismatch = 803;
    public const int Unknown = 999;

    static readonly Dictionary<int, (string Name, string Description)> Known = new()
    {
        [0] = ("CUDA_SUCCESS", "no error"),
        [1] = ("CUDA_ERROR_INVALID_VALUE", "invalid argument"),
        [2] = ("CUDA_ERROR_OUT_OF_MEMORY", "out of memory"),
        [3] = ("CUDA_ERROR_NOT_INITIALIZED", "initialization error"),
        [4] = ("CUDA_ERROR_DEINITIALIZED", "driver shutting down"),
        [34] = ("CUDA_ERROR_STUB_LIBRARY", "CUDA driver is a stub library"),
        [46] = ("CUDA_ERROR_DEVICE_UNAVAILABLE", "CUDA-capable device(s) is/are busy or unavailable"),
        [100] = ("CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"),
        [101] = ("CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"),
        [201] = ("CUDA_ERROR_INVALID_CONTEXT", "invalid device context"),
        [400] = ("CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"),
        [600] = ("CUDA_ERROR_NOT_READY", "device not ready"),
        [700] = ("CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered"),
        [709] = ("CUDA_ERROR_CONTEXT_IS_DESTROYED", "context is destroyed"),
        [712] = ("CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED", "part or all of the requested memory range is already mapped"),
        [713] = ("CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED", "pointer does not correspond to a registered memory region"),
        [719] = ("CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"),
        [800] = ("CUDA_ERROR_NOT_PERMITTED", "operation not permitted"),
        [801] = ("CUDA_ERROR_NOT_SUPPORTED", "operation not supported"),
        [802] = ("CUDA_ERROR_SYSTEM_NOT_READY", "system not yet initialized"),
        [803] = ("CUDA_ERROR_SYSTEM_DRIVER_MISMATCH", "system has unsupported display driver / cuda driver combination"),
        [999] = ("CUDA_ERROR_UNKNOWN", "unknown error"),
    };

    /// <summary>The codes this table knows (for tests that compare it with the driver).</summary>
    public static IEnumerable<int> KnownCodes => Known.Keys;

    /// <summary>Throws a <see cref="CudaException"/> naming <paramref name="call"/> unless the result is success.</summary>
    public static void Check(int result, string call, string? context = null)
    {
        if (result != Success) throw CudaException.FromResult(call, result, context);
    }

    /// <summary>
    /// Like <see cref="Check"/> for releasing resources in Dispose: a driver that is already shut down
    /// (process exit) or a destroyed context has released everything, so those codes are not errors.
    /// </summary>
    public static void CheckRelease(int result, string call, string? context = null)
    {
        if (result is Success or Deinitialized or ContextIsDestroyed) return;
        throw CudaException.FromResult(call, result, context);
    }

    public static string Name(int code)
    {
        if (CudaDriver.LibraryLoaded && NativeMethods.cuGetErrorName(code, out IntPtr p) == Success && p != IntPtr.Zero)
            return Marshal.PtrToStringUTF8(p) ?? FallbackName(code);
        return FallbackName(code);
    }

    public static string Description(int code)
    {
        if (CudaDriver.LibraryLoaded && NativeMethods.cuGetErrorString(code, out IntPtr p) == Success && p != IntPtr.Zero)
            return Marshal.PtrToStringUTF8(p) ?? FallbackDescription(code);
        return FallbackDescription(code);
    }

    internal static string FallbackName(int code) => Known.TryGetValue(code, out var k) ? k.Name : $"CUresult {code}";

    internal static string FallbackDescription(int code) =>
        Known.TryGetValue(code, out var k) ? k.Description : "a code this toolkit does not know (see CUresult in cuda.h)";

    /// <summary>What the user (or the calling code) should do about a failure.</summary>
    public static string Advice(int code) => code switch
    {
        InvalidValue => "An argument was rejected (pointer, size, flags or priority): check the values passed to this call.",
        OutOfMemory => "Free GPU (or pinned host) memory, use fewer or smaller buffers, or check nvidia-smi for other processes.",
        NotInitialized or Deinitialized => "Open the driver with CudaDriver.Open() before using it, and not during process shutdown.",
        StubLibrary => "libcuda.so.1 is the CUDA toolkit's stub, not the driver: install the NVIDIA driver or fix LD_LIBRARY_PATH so the real libcuda.so.1 is found first.",
        DeviceUnavailable => "The GPU is busy or in exclusive-process mode for another process: check nvidia-smi (compute mode, other processes).",
        NoDevice => "No GPU is visible: check nvidia-smi and CUDA_VISIBLE_DEVICES.",
        InvalidDevice => "The device index is out of range: use an index below CudaDriver.DeviceCount (CUDA_VISIBLE_DEVICES renumbers devices).",
        InvalidContext or ContextIsDestroyed => "No valid context is current on this thread: keep the CudaContext alive and call MakeCurrent() on this thread (the toolkit's own calls do this).",
        InvalidHandle => "A stream, event or buffer was used after it was disposed, or with another device's context.",
        HostMemoryAlreadyRegistered => "This host range (or part of it) is already registered: register each region once, or unregister it first.",
        HostMemoryNotRegistered => "This pointer is not the start of a registered region: unregister exactly what was registered.",
        IllegalAddress or LaunchFailed => "A kernel or copy touched invalid memory; the context is now unusable: restart the process, and check sizes and tensor lifetimes.",
        NotPermitted or NotSupported => "This device or platform does not allow the operation (for example registering this kind of host memory); use pinned memory from PinnedHostBuffer instead.",
        SystemNotReady or SystemDriverMismatch => "The NVIDIA driver installation is incomplete or mismatched: check nvidia-smi and that the kernel module and libcuda.so.1 versions agree.",
        _ => "See the CUresult documentation in cuda.h for this code.",
    };
}
