using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>Loads any supported model folder.</summary>
public static class MoeModels
{
    public static IMoeModel Load(string folder, ModelLoadOptions? options = null)
    {
        var config = MoeConfig.Load(folder);
        return config.IsEncoderDecoder ? SwitchModel.Load(folder, config, options) : MoeCausalLM.Load(folder, config, options);
    }

    /// <summary>
    /// Whether CUDA steps in bf16/fp16 use libtorch's fused rms_norm and grouped expert GEMM (default: on where the
    /// libtorch in use exports them, PyTorch 2.9+). Off gives transformers' exact op sequence. Process-wide.
    /// </summary>
    public static bool FusedCudaKernels
    {
        get => Ops.FusedCudaKernels;
        set => Ops.FusedCudaKernels = value;
    }

    /// <summary>Whether steps on this device in this dtype run the fused kernels (<see cref="FusedCudaKernels"/>).</summary>
    public static bool UsesFusedKernels(Device device, ScalarType dtype) => Ops.UsesFusedKernels(device.type, dtype);

    internal static void CheckDType(ScalarType dtype)
    {
        if (dtype is not (ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16))
            throw new ArgumentException($"dtype {dtype} is not supported; use fp32, fp16 or bf16.");
    }

    public static ScalarType ParseDType(string text) => text.Trim().ToLowerInvariant() switch
    {
        "fp32" or "float32" or "f32" => ScalarType.Float32,
        "fp16" or "float16" or "f16" or "half" => ScalarType.Float16,
        "bf16" or "bfloat16" => ScalarType.BFloat16,
        _ => throw new ArgumentException($"'{text}' is not a dtype; use fp32, fp16 or bf16."),
    };
}
