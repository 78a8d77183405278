using Toolkit.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ExpertFlow.Model;

/// <summary>Small numeric building blocks, each written to match transformers' arithmetic.</summary>
internal static class Ops
{
    /// <summary>
    /// Whether CUDA steps in bf16/fp16 use libtorch's fused kernels (<see cref="LibTorchOps"/>: rms_norm and the
    /// grouped expert GEMM): on by default where libtorch exports them; off gives transformers' exact op sequence.
    /// </summary>
    public static bool FusedCudaKernels { get; set; } = true;

    static readonly Lazy<bool> FusedAvailable = new(() => LibTorchOps.IsAvailable(out _));

    // tests: null = the rule below; true = fused kernels on any device and dtype and the grouped expert GEMM for every
    // token count (libtorch's reference implementations on the CPU); false = never
    [ThreadStatic] static bool? forced;

    /// <summary>Until disposed, this thread's steps use (or never use) the fused kernels, whatever the device and dtype.</summary>
    internal static IDisposable ForceFusedKernels(bool on)
    {
        forced = on;
        return new Restore(() => forced = null);
    }

    /// <summary>Forced on for this thread: the grouped expert GEMM also where the gather or dense kernels would run.</summary>
    internal static bool FusedForcedOn => forced == true;

    sealed class Restore(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }

    /// <summary>True when a tensor like <paramref name="x"/> takes the fused kernels (CUDA, half precision, available).</summary>
    public static bool UsesFusedKernels(Tensor x) => UsesFusedKernels(x.device_type, x.dtype);

    /// <summary>True when tensors of this device type and dtype take the fused kernels.</summary>
    public static bool UsesFusedKernels(DeviceType device, ScalarType dtype) =>
        (forced ?? (FusedCudaKernels && device == DeviceType.CUDA && dtype is ScalarType.BFloat16 or ScalarType.Float16))
        && FusedAvailable.Value;

    /// <summary>
    /// RMSNorm/T5LayerNorm as transformers: statistics in fp32, then weight * x.to(input dtype). On CUDA in bf16/fp16 one
    /// fused kernel instead of eight (the result is rounded once, not twice: at most one unit in the last place apart).
    /// </summary>
    public static Tensor RmsNorm(Tensor x, Tensor weight, double eps)
    {
        if (UsesFusedKernels(x) && weight.dtype == x.dtype) return LibTorchOps.RmsNorm(x, weight, eps);
        var dtype = x.dtype;
        var x32 = dtype == ScalarType.Float32 ? x : x.to(ScalarType.Float32);
        var variance = x32.square().mean([-1], keepdim: true);
        var normed = x32 * rsqrt(Add(variance, eps));
        return weight * (dtype == ScalarType.Float32 ? normed : normed.to(dtype));
    }

    public static Tensor Activation(Tensor x, string act) => act switch
    {
        "silu" => F.silu(x),
        "relu" => F.relu(x),
        "gelu" => F.gelu(x),
        "gelu_new" or "gelu_pytorch_tanh" => Mul(x, 0.5) * Add(tanh(Mul(x + Mul(x.square() * x, 0.044715), Math.Sqrt(2.0 / Math.PI))), 1.0),
        _ => throw new InvalidOperationException($"activation {act}"),
    };

    // TorchSharp 0.107 turns a C# number in `tensor + 1.0` into a Scalar that nothing references during the native call,
    // so a garbage collection at that moment can finalize (free) it while libtorch reads it: seen once in CI as
    // "toFloat ... Expected false to be true" inside RmsNorm. Hot paths pass their numbers through these instead: the
    // `using` keeps the Scalar alive until the call has returned.

    /// <summary>x + value, with the Scalar kept alive through the call.</summary>
    public static Tensor Add(Tensor x, double value)
    {
        using var s = value.ToScalar();
        return x.add(s);
    }

    /// <summary>x * value, with the Scalar kept alive through the call.</summary>
    public static Tensor Mul(Tensor x, double value)
    {
        using var s = value.ToScalar();
        return x.mul(s);
    }

    /// <summary>x.masked_fill(mask, value), with the Scalar kept alive through the call.</summary>
    public static Tensor MaskedFill(Tensor x, Tensor mask, double value)
    {
        using var s = value.ToScalar();
        return x.masked_fill(mask, s);
    }

    /// <summary>Gated FFN on a fused [2I, H] input weight: out = down · (act(gate·x) ⊙ up·x).</summary>
    public static Tensor GatedFfn(Tensor x, Tensor gateUp, Tensor down, string act)
    {
        var h = F.linear(x, gateUp);
        long inter = gateUp.shape[0] / 2;
        var a = Activation(h.narrow(-1, 0, inter), act) * h.narrow(-1, inter, inter);
        return F.linear(a, down);
    }

    /// <summary>Ungated FFN (Switch/T5 DenseActDense): out = wo · act(wi·x).</summary>
    public static Tensor PlainFfn(Tensor x, Tensor wi, Tensor wo, string act) => F.linear(Activation(F.linear(x, wi), act), wo);

    /// <summary>Embedding lookup: rows of <paramref name="table"/> for ids of any shape.</summary>
    public static Tensor Embed(Tensor ids, Tensor table)
    {
        long[] shape = [.. ids.shape, table.shape[1]];
        return table.index_select(0, ids.reshape(-1)).view(shape);
    }

    /// <summary>rotate_half: [-x2, x1] over the last dimension.</summary>
    public static Tensor RotateHalf(Tensor x)
    {
        long half = x.shape[^1] / 2;
        return cat([-x.narrow(-1, half, half), x.narrow(-1, 0, half)], -1);
    }

    /// <summary>x * cos + rotate_half(x) * sin.</summary>
    public static Tensor Rope(Tensor x, Tensor cos, Tensor sin) => x * cos + RotateHalf(x) * sin;

    /// <summary>
    /// The same with <paramref name="signedSin"/> = [-sin₁, sin₂] (precomputed once per step): rotate_half(x) * sin equals
    /// roll(x, d/2) * signedSin, so RoPE is three kernels (mul, roll, addcmul).
    /// </summary>
    public static Tensor RopeSigned(Tensor x, Tensor cos, Tensor signedSin)
    {
        long half = x.shape[^1] / 2;
        return addcmul(x * cos, x.roll(half, -1), signedSin, 1.0);
    }
}
