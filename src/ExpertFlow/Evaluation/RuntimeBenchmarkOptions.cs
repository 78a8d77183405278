using static TorchSharp.torch;

namespace ExpertFlow.Evaluation;

/// <summary>What <see cref="RuntimeBenchmark"/> measures: a Qwen1.5-MoE-A2.7B-shaped model with random weights, all experts resident.</summary>
public sealed record RuntimeBenchmarkOptions
{
    public Device Device { get; init; } = CPU;
    public ScalarType DType { get; init; } = ScalarType.BFloat16;
    /// <summary>Decoder layers (24 = the real model).</summary>
    public int Layers { get; init; } = 24;
    public IReadOnlyList<int> Batches { get; init; } = [1, 16];
    public int PromptTokens { get; init; } = 32;
    public int NewTokens { get; init; } = 32;
    /// <summary>Expert execution: stacked (resident fast kernels) and/or grouped (through OnRouted/Get).</summary>
    public IReadOnlyList<string> Paths { get; init; } = ["stacked", "grouped"];
    /// <summary>CUDA graph modes to run with the stacked path (CUDA only).</summary>
    public IReadOnlyList<bool> CudaGraphModes { get; init; } = [true, false];
    /// <summary>Fused-kernel modes to run (CUDA only).</summary>
    public IReadOnlyList<bool> FusedKernelModes { get; init; } = [true];
    /// <summary>A small model of the same structure (hidden 256, vocabulary 4096) for a CPU smoke run.</summary>
    public bool Small { get; init; }

    /// <summary>The expert execution paths a benchmark can take.</summary>
    public static IReadOnlyList<string> KnownPaths { get; } = ["stacked", "grouped"];
}
