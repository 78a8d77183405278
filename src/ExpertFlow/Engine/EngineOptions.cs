using ExpertFlow.Offloading;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace ExpertFlow.Engine;

/// <summary>How to load a model for inference: the one configuration the command line, the server and the evaluations fill in.</summary>
public sealed record EngineOptions
{
    /// <summary>A Hugging Face model folder (config.json, safetensors, optionally tokenizer files).</summary>
    public required string ModelFolder { get; init; }
    public Device Device { get; init; } = CPU;
    /// <summary>The compute dtype; null: bf16 on CUDA, fp32 on the CPU.</summary>
    public ScalarType? DType { get; init; }
    /// <summary>On CUDA, replay eligible decode steps from CUDA graphs.</summary>
    public bool CudaGraphs { get; init; } = true;
    /// <summary>On CUDA in bf16/fp16, libtorch's fused rms_norm and grouped expert GEMM (off: transformers' op sequence).</summary>
    public bool FusedKernels { get; init; } = true;
    /// <summary>How routed experts are stored: unquantized (the compute dtype), int8 or int4, packed at load.</summary>
    public ExpertFlow.Model.ExpertFormat ExpertFormat { get; init; } = ExpertFlow.Model.ExpertFormat.Unquantized;
    /// <summary>Offloaded experts; null: every expert resident on the device.</summary>
    public OffloadOptions? Offload { get; init; }
    /// <summary>The routing-path predictor's folder for the expertflow policy; null: MODEL/predictor.</summary>
    public string? PredictorFolder { get; init; }
    public ILogger? Log { get; init; }

    /// <summary>The dtype used: <see cref="DType"/>, or bf16 on CUDA and fp32 on the CPU.</summary>
    public ScalarType ComputeDType => DType ?? (Device.type == TorchSharp.DeviceType.CUDA ? ScalarType.BFloat16 : ScalarType.Float32);

    /// <summary>Where the predictor is read from.</summary>
    public string PredictorPath => PredictorFolder ?? Path.Combine(ModelFolder, "predictor");
}
