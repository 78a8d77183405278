using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Toolkit.Runtime;

/// <summary>
/// ATen operators that TorchSharp 0.107 does not wrap, called through libtorch's own dispatcher
/// (<c>at::_ops::NAME::call</c>, exported from libtorch_cpu.so under its Itanium-ABI mangled name), so they run the
/// same CPU and CUDA kernels as in PyTorch and are captured by CUDA graphs like any other op:
/// <list type="bullet">
/// <item><see cref="GroupedMm"/>: <c>torch._grouped_mm</c>, one batched GEMM over groups of rows that each use their own
/// matrix (MoE experts): reads only the matrices of non-empty groups, with no gather copy.</item>
/// <item><see cref="RmsNorm"/>: <c>torch.rms_norm</c>, a single fused kernel on CUDA.</item>
/// </list>
/// </summary>
/// <remarks>
/// How the values cross: a TorchSharp tensor handle is a heap <c>at::Tensor*</c>, which is exactly what a
/// <c>const at::Tensor&amp;</c> parameter expects. A returned <c>at::Tensor</c> (not trivially copyable) comes back
/// through a caller-provided slot (the hidden sret pointer), allocated here with malloc and handed to TorchSharp, whose
/// dispose deletes it. <c>std::optional&lt;at::Tensor&gt;</c> is built as {TensorImpl*, engaged} without taking a
/// reference (the callee only reads it). A C++ exception cannot cross into .NET (the process would end), so every
/// precondition libtorch checks is checked here first and reported as an <see cref="ArgumentException"/>.
/// </remarks>
public static unsafe class LibTorchOps
{
    const string GroupedMmName = "_ZN2at4_ops11_grouped_mm4callERKNS_6TensorES4_RKSt8optionalIS2_ES8_S5_IN3c1010ScalarTypeEE";
    const string RmsNormName = "_ZN2at4_ops8rms_norm4callERKNS_6TensorEN3c108ArrayRefINS5_6SymIntEEERKSt8optionalIS2_ES9_IdE";
    const string ViewDTypeName = "_ZN2at4_ops10view_dtype4callERKNS_6TensorEN3c1010ScalarTypeE";

    [StructLayout(LayoutKind.Sequential)]
    struct OptionalTensor
    {
        public IntPtr Impl;   // the at::Tensor's single member: intrusive_ptr<TensorImpl>
        public long Engaged;  // bool, padded to the optional's 16 bytes
    }

    // resolved once, on first use: null when everything was found, otherwise why not
    static readonly Lazy<string?> failure = new(Resolve);
    // (sret, self, mat2, const optional<Tensor>& offs, const optional<Tensor>& bias, optional<ScalarType> out_dtype)
    static delegate* unmanaged<IntPtr, IntPtr, IntPtr, OptionalTensor*, OptionalTensor*, ushort, IntPtr> groupedMm;
    // (sret, input, SymIntArrayRef {data, size}, const optional<Tensor>& weight, optional<double> {value, engaged})
    static delegate* unmanaged<IntPtr, IntPtr, long*, long, OptionalTensor*, double, long, IntPtr> rmsNorm;

    /// <summary>True when the loaded libtorch exports the operators; otherwise why not.</summary>
    public static bool IsAvailable([NotNullWhen(false)] out string? reason)
    {
        reason = failure.Value;
        return reason == null;
    }

    static string? Resolve()
    {
        var location = LibTorch.EnsureLoaded();
        IntPtr library = IntPtr.Zero;
        string[] candidates =
        [
            Path.Combine(location.LibDirectory, "libtorch_cpu.so"),
            Path.Combine(location.LibDirectory, "runtimes", "linux-x64", "native", "libtorch_cpu.so"),
            "libtorch_cpu.so", // by soname: the copy TorchSharp already loaded
        ];
        foreach (var candidate in candidates)
            if ((candidate.Contains('/') ? File.Exists(candidate) : true) && NativeLibrary.TryLoad(candidate, out library)) break;
        if (library == IntPtr.Zero) return $"libtorch_cpu.so could not be found next to {location.LibDirectory}";
        var missing = new List<string>();
        if (NativeLibrary.TryGetExport(library, GroupedMmName, out var mm))
            groupedMm = (delegate* unmanaged<IntPtr, IntPtr, IntPtr, OptionalTensor*, OptionalTensor*, ushort, IntPtr>)mm;
        else missing.Add("at::_ops::_grouped_mm::call");
        if (NativeLibrary.TryGetExport(library, RmsNormName, out var norm))
            rmsNorm = (delegate* unmanaged<IntPtr, IntPtr, long*, long, OptionalTensor*, double, long, IntPtr>)norm;
        else missing.Add("at::_ops::rms_norm::call");
        return missing.Count == 0 ? null : $"the libtorch in {location.LibDirectory} does not export {string.Join(" and ", missing)} (PyTorch 2.9 or newer has them)";
    }

    static void Require()
    {
        if (!IsAvailable(out var why)) throw new NotSupportedException(why);
    }

    /// <summary>
    /// <c>torch._grouped_mm(a, b, offsets)</c>: rows offsets[g-1]..offsets[g] of <paramref name="a"/> [M, K] are multiplied
    /// by <paramref name="b"/>[g] ([G, K, N]); returns [M, N] in a's dtype. <paramref name="offsets"/> is int32 [G],
    /// non-decreasing, its last value at most M (rows past it are left undefined). On CUDA, a and b must be bf16 with
    /// K and N multiples of 8, and b laid out with unit stride along K (a transposed view of [G, N, K] weights);
    /// the CPU runs libtorch's reference loop for any floating dtype.
    /// </summary>
    public static Tensor GroupedMm(Tensor a, Tensor b, Tensor offsets)
    {
        Require();
        if (a.dim() != 2 || b.dim() != 3) throw new ArgumentException($"grouped mm needs a 2-D [M, K] and a 3-D [G, K, N] operand; got [{string.Join(", ", a.shape)}] and [{string.Join(", ", b.shape)}].");
        if (a.shape[1] != b.shape[1]) throw new ArgumentException($"grouped mm: a has K = {a.shape[1]}, b has K = {b.shape[1]}.");
        if (offsets.dim() != 1 || offsets.shape[0] != b.shape[0] || offsets.dtype != ScalarType.Int32)
            throw new ArgumentException($"grouped mm needs int32 offsets of length G = {b.shape[0]}; got {offsets.dtype} [{string.Join(", ", offsets.shape)}].");
        if (a.dtype != b.dtype) throw new ArgumentException($"grouped mm operands differ in dtype ({a.dtype}, {b.dtype}).");
        if (!SameDevice(a, b) || !SameDevice(a, offsets)) throw new ArgumentException("grouped mm operands and offsets must be on one device.");
        if (a.device_type == DeviceType.CUDA)
        {
            if (a.dtype != ScalarType.BFloat16) throw new ArgumentException($"grouped mm on CUDA takes bf16 operands, not {a.dtype}.");
            if (a.shape[1] % 8 != 0 || b.shape[2] % 8 != 0) throw new ArgumentException($"grouped mm on CUDA needs K and N that are multiples of 8 (K = {a.shape[1]}, N = {b.shape[2]}).");
            if (a.stride(1) != 1 || b.stride(1) != 1 && b.stride(2) != 1)
                throw new ArgumentException("grouped mm on CUDA needs a row-major a and a b with unit stride along K or N.");
        }
        else if (!a.is_floating_point()) throw new ArgumentException($"grouped mm takes floating-point operands, not {a.dtype}.");
        var offs = new OptionalTensor { Impl = *(IntPtr*)offsets.Handle, Engaged = 1 };
        var none = default(OptionalTensor);
        var slot = NewSlot();
        groupedMm(slot, a.Handle, b.Handle, &offs, &none, 0);
        return Adopt(slot);
    }

    /// <summary>
    /// <c>torch.rms_norm(x, [H], weight, eps)</c> over the last dimension (H = weight's length): one fused kernel on CUDA.
    /// The statistics are computed in fp32 and the result is rounded to x's dtype once (transformers rounds the
    /// normalised value before multiplying by the weight: up to one unit in the last place apart in bf16/fp16).
    /// </summary>
    public static Tensor RmsNorm(Tensor x, Tensor weight, double eps)
    {
        Require();
        if (weight.dim() != 1 || x.dim() < 1 || x.shape[^1] != weight.shape[0])
            throw new ArgumentException($"rms_norm: the weight [{string.Join(", ", weight.shape)}] does not match the last dimension of [{string.Join(", ", x.shape)}].");
        if (x.dtype != weight.dtype || !SameDevice(x, weight)) throw new ArgumentException("rms_norm: input and weight must share dtype and device.");
        if (!x.is_floating_point()) throw new ArgumentException($"rms_norm takes a floating-point input, not {x.dtype}.");
        var w = new OptionalTensor { Impl = *(IntPtr*)weight.Handle, Engaged = 1 };
        long h = weight.shape[0];
        var slot = NewSlot();
        rmsNorm(slot, x.Handle, &h, 1, &w, eps, 1);
        return Adopt(slot);
    }

    // (sret, self, c10::ScalarType): resolved on its own, since every libtorch exports it
    static readonly Lazy<IntPtr> viewDType = new(() =>
    {
        var location = LibTorch.EnsureLoaded();
        foreach (var candidate in new[] { Path.Combine(location.LibDirectory, "libtorch_cpu.so"), Path.Combine(location.LibDirectory, "runtimes", "linux-x64", "native", "libtorch_cpu.so"), "libtorch_cpu.so" })
            if ((!candidate.Contains('/') || File.Exists(candidate)) && NativeLibrary.TryLoad(candidate, out var library)
                && NativeLibrary.TryGetExport(library, ViewDTypeName, out var f)) return f;
        throw new NotSupportedException($"the libtorch in {location.LibDirectory} does not export at::_ops::view_dtype::call");
    });

    /// <summary>
    /// <c>tensor.view(dtype)</c>: the same bytes read as another dtype, without a copy (e.g. scales stored inside a
    /// uint8 block read as fp32). The last dimension must be contiguous and hold whole elements of the new dtype, and the
    /// storage offset and every other stride must be multiples of the size ratio; the last dimension's length scales by it.
    /// </summary>
    public static Tensor ViewAs(Tensor x, ScalarType dtype)
    {
        int from = ElementSize(x.dtype), to = ElementSize(dtype);
        if (from != to)
        {
            if (x.dim() < 1 || x.stride(-1) != 1) throw new ArgumentException("view as another dtype needs a last dimension with unit stride.");
            if (from < to)
            {
                int ratio = to / from;
                if (x.shape[^1] % ratio != 0 || x.storage_offset() % ratio != 0 || Enumerable.Range(0, (int)x.dim() - 1).Any(d => x.stride(d) % ratio != 0))
                    throw new ArgumentException($"a [{string.Join(", ", x.shape)}] {x.dtype} tensor cannot be read as {dtype}: sizes, offset and strides must be multiples of {ratio}.");
            }
        }
        var slot = NewSlot();
        ((delegate* unmanaged<IntPtr, IntPtr, sbyte, IntPtr>)viewDType.Value)(slot, x.Handle, (sbyte)dtype);
        return Adopt(slot);
    }

    static int ElementSize(ScalarType t) => t switch
    {
        ScalarType.Byte or ScalarType.Int8 or ScalarType.Bool => 1,
        ScalarType.Int16 or ScalarType.Float16 or ScalarType.BFloat16 => 2,
        ScalarType.Int32 or ScalarType.Float32 => 4,
        ScalarType.Int64 or ScalarType.Float64 => 8,
        _ => throw new ArgumentException($"view as: dtype {t} is not supported."),
    };

    static bool SameDevice(Tensor x, Tensor y) => x.device_type == y.device_type && x.device_index == y.device_index;

    /// <summary>Room for one returned at::Tensor (malloc: TorchSharp's dispose frees it with delete).</summary>
    static IntPtr NewSlot() => (IntPtr)NativeMemory.AllocZeroed((nuint)IntPtr.Size);

    static Tensor Adopt(IntPtr slot)
    {
        if (*(IntPtr*)slot == IntPtr.Zero)
        {
            NativeMemory.Free((void*)slot);
            throw new InvalidOperationException("libtorch returned an undefined tensor.");
        }
        return Tensor.UnsafeCreateTensor(slot); // TorchSharp owns the at::Tensor* from here (its dispose deletes it)
    }
}
