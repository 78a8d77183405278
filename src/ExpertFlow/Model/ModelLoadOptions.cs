using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>Options for loading a model.</summary>
public sealed record ModelLoadOptions
{
    public Device? Device { get; init; }
    /// <summary>Compute dtype: Float32, Float16 or BFloat16.</summary>
    public ScalarType DType { get; init; } = ScalarType.Float32;
    /// <summary>Who owns expert weights; default: <see cref="ResidentExpertProvider"/>.</summary>
    public IExpertProvider? Experts { get; init; }
    /// <summary>How routed experts are stored (bf16: unquantized, in <see cref="DType"/>; int8, int4: packed at load).</summary>
    public ExpertFormat ExpertFormat { get; init; } = ExpertFormat.Unquantized;
    public ILogger? Log { get; init; }
    /// <summary>
    /// On CUDA, replay decode steps from CUDA graphs where the step allows it: the whole step with resident stacked
    /// experts (no routing observers, at most one token per row), or the stretches between MoE layers with experts
    /// reached through the provider (one token per row); see <see cref="DecodeGraphs"/>. Ignored on the CPU.
    /// </summary>
    public bool CudaGraphs { get; init; } = true;
}
