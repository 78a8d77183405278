using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Toolkit.Runtime;

/// <summary>
/// CPU tensors over memory the caller owns (e.g. a pinned host arena), without copying: TorchSharp 0.107 only wraps
/// managed arrays, so this calls LibTorchSharp's own <c>THSTensor_new</c> (libtorch's from_blob) with a deleter that
/// does nothing. The memory must outlive every tensor made over it.
/// </summary>
public static unsafe class HostTensors
{
    // (data, deleter, sizes, ndim, source scalar type, wanted scalar type, device type, device index, requires grad)
    static delegate* unmanaged<IntPtr, IntPtr, long*, int, sbyte, sbyte, int, int, byte, IntPtr> newTensor;
    static readonly Lazy<string?> failure = new(Resolve);

    /// <summary>True when LibTorchSharp's tensor constructor could be found; otherwise why not.</summary>
    public static bool IsAvailable(out string? reason)
    {
        reason = failure.Value;
        return reason == null;
    }

    /// <summary>A CPU tensor of <paramref name="shape"/> and <paramref name="dtype"/> whose data is at <paramref name="pointer"/> (row-major, not copied).</summary>
    public static Tensor View(IntPtr pointer, long[] shape, ScalarType dtype)
    {
        if (failure.Value is { } why) throw new NotSupportedException(why);
        if (pointer == IntPtr.Zero) throw new ArgumentException("a host tensor needs a non-null pointer");
        IntPtr handle;
        fixed (long* sizes = shape)
            handle = newTensor(pointer, (IntPtr)(delegate* unmanaged<IntPtr, void>)&KeepMemory, sizes, shape.Length, (sbyte)dtype, (sbyte)dtype, (int)DeviceType.CPU, 0, 0);
        if (handle == IntPtr.Zero) throw new InvalidOperationException("LibTorchSharp could not make a tensor over host memory");
        return Tensor.UnsafeCreateTensor(handle);
    }

    [UnmanagedCallersOnly]
    static void KeepMemory(IntPtr memory) { } // the caller owns the memory

    static string? Resolve()
    {
        LibTorch.EnsureLoaded();
        string dir = Path.GetDirectoryName(typeof(torch).Assembly.Location) ?? "";
        string[] candidates = ["libLibTorchSharp.so", Path.Combine(dir, "libLibTorchSharp.so"), Path.Combine(dir, "runtimes", "linux-x64", "native", "libLibTorchSharp.so")];
        foreach (var candidate in candidates)
            if (NativeLibrary.TryLoad(candidate, out var library) && NativeLibrary.TryGetExport(library, "THSTensor_new", out var f))
            {
                newTensor = (delegate* unmanaged<IntPtr, IntPtr, long*, int, sbyte, sbyte, int, int, byte, IntPtr>)f;
                return null;
            }
        return "LibTorchSharp's THSTensor_new could not be found";
    }
}
