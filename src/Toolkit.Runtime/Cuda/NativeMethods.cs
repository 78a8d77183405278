using System.Runtime.InteropServices;

namespace Toolkit.Runtime.Cuda;

/// <summary>
/// The one door to the CUDA driver (libcuda.so.1). Every function returns a CUresult (0 = success) that
/// callers pass to <see cref="CudaErrors.Check"/>. Handles (CUcontext, CUstream, CUevent) are pointers,
/// CUdevice is an int, CUdeviceptr a 64-bit address. Versioned entry points (_v2) are the ones the CUDA
/// headers map the plain names to since CUDA 11; the driver keeps exporting them for old binaries.
/// Nothing here may be called before <see cref="CudaDriver.TryOpen"/> has loaded the library.
/// </summary>
internal static partial class NativeMethods
{
    public const string Library = "libcuda.so.1";

    public const uint CU_STREAM_NON_BLOCKING = 0x1;
    public const uint CU_EVENT_DEFAULT = 0x0;
    public const uint CU_EVENT_DISABLE_TIMING = 0x2;
    public const uint CU_MEMHOSTALLOC_PORTABLE = 0x1;
    public const uint CU_MEMHOSTREGISTER_PORTABLE = 0x1;
    public const uint CU_MEMHOSTREGISTER_READ_ONLY = 0x8;
    /// <summary>The legacy default stream: the one libtorch computes on unless told otherwise.</summary>
    public static readonly IntPtr LegacyDefaultStream = IntPtr.Zero;

    [LibraryImport(Library)] public static partial int cuInit(uint flags);
    [LibraryImport(Library)] public static partial int cuDriverGetVersion(out int version);
    [LibraryImport(Library)] public static partial int cuGetErrorName(int error, out IntPtr name);
    [LibraryImport(Library)] public static partial int cuGetErrorString(int error, out IntPtr text);

    [LibraryImport(Library)] public static partial int cuDeviceGetCount(out int count);
    [LibraryImport(Library)] public static partial int cuDeviceGet(out int device, int ordinal);
    [LibraryImport(Library)] public static unsafe partial int cuDeviceGetName(byte* name, int length, int device);
    [LibraryImport(Library)] public static partial int cuDeviceTotalMem_v2(out nuint bytes, int device);

    [LibraryImport(Library)] public static partial int cuDevicePrimaryCtxRetain(out IntPtr context, int device);
    [LibraryImport(Library)] public static partial int cuDevicePrimaryCtxRelease_v2(int device);
    [LibraryImport(Library)] public static partial int cuCtxSetCurrent(IntPtr context);
    [LibraryImport(Library)] public static partial int cuCtxGetCurrent(out IntPtr context);
    [LibraryImport(Library)] public static partial int cuCtxGetStreamPriorityRange(out int leastPriority, out int greatestPriority);
    [LibraryImport(Library)] public static partial int cuMemGetInfo_v2(out nuint free, out nuint total);

    [LibraryImport(Library)] public static partial int cuStreamCreateWithPriority(out IntPtr stream, uint flags, int priority);
    [LibraryImport(Library)] public static partial int cuStreamDestroy_v2(IntPtr stream);
    [LibraryImport(Library)] public static partial int cuStreamSynchronize(IntPtr stream);
    [LibraryImport(Library)] public static partial int cuStreamWaitEvent(IntPtr stream, IntPtr @event, uint flags);

    [LibraryImport(Library)] public static partial int cuEventCreate(out IntPtr @event, uint flags);
    [LibraryImport(Library)] public static partial int cuEventRecord(IntPtr @event, IntPtr stream);
    [LibraryImport(Library)] public static partial int cuEventSynchronize(IntPtr @event);
    [LibraryImport(Library)] public static partial int cuEventQuery(IntPtr @event);
    [LibraryImport(Library)] public static partial int cuEventElapsedTime(out float milliseconds, IntPtr start, IntPtr end);
    [LibraryImport(Library)] public static partial int cuEventDestroy_v2(IntPtr @event);

    [LibraryImport(Library)] public static partial int cuMemHostAlloc(out IntPtr pointer, nuint bytes, uint flags);
    [LibraryImport(Library)] public static partial int cuMemFreeHost(IntPtr pointer);
    [LibraryImport(Library)] public static partial int cuMemHostRegister_v2(IntPtr pointer, nuint bytes, uint flags);
    [LibraryImport(Library)] public static partial int cuMemHostUnregister(IntPtr pointer);
    [LibraryImport(Library)] public static partial int cuMemAlloc_v2(out ulong devicePointer, nuint bytes);
    [LibraryImport(Library)] public static partial int cuMemFree_v2(ulong devicePointer);

    [LibraryImport(Library)] public static partial int cuStreamEndCapture(IntPtr stream, out IntPtr graph);
    [LibraryImport(Library)] public static partial int cuGraphDestroy(IntPtr graph);

    [LibraryImport(Library)] public static partial int cuMemcpyHtoDAsync_v2(ulong destination, IntPtr source, nuint bytes, IntPtr stream);
    [LibraryImport(Library)] public static partial int cuMemcpyDtoHAsync_v2(IntPtr destination, ulong source, nuint bytes, IntPtr stream);
}

/// <summary>
/// TorchSharp 0.107 exposes no tensor data pointer, so it is read from its own native shim
/// (THSTensor_data returns at::Tensor::data_ptr(), storage offset included). The library is already
/// loaded by TorchSharp when this is called.
/// </summary>
internal static partial class TorchSharpNative
{
    [LibraryImport("LibTorchSharp")] public static partial IntPtr THSTensor_data(IntPtr tensor);
}
