using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>
/// Everything an expert provider needs to know about a model's experts, without touching the device: which layers
/// are MoE layers, how many experts each has, and the checkpoint tensors of each expert. Layer numbers are the
/// model's layer indices (Switch: encoder blocks 0..N-1, then decoder blocks N..N+M-1).
/// </summary>
public sealed class ExpertCatalog(IReadOnlyList<int> moeLayers, int numExperts, bool gated, ScalarType dtype,
    Func<int, int, ExpertIdentity> identity, IWeightSource weights)
{
    /// <summary>Layer indices that hold experts, ascending.</summary>
    public IReadOnlyList<int> MoeLayers { get; } = moeLayers;
    public int NumExperts { get; } = numExperts;
    /// <summary>True for act(gate)·up experts, false for Switch's act(wi) experts.</summary>
    public bool Gated { get; } = gated;
    /// <summary>The dtype the model computes in (the provider must hand out tensors of this dtype).</summary>
    public ScalarType DType { get; } = dtype;
    /// <summary>Where the model's weights come from (use it to build host copies of experts).</summary>
    public IWeightSource Weights { get; } = weights;
    /// <summary>The memory-mapped checkpoint, when the weights come from files (zero-copy host reads); null for random weights.</summary>
    public Toolkit.Runtime.Safetensors.SafetensorsCheckpoint? Checkpoint => Weights.Checkpoint;
    public ExpertIdentity Identity(int layer, int expert)
    {
        var id = identity(layer, expert);
        if (Checkpoint is not { } ck) return id;
        ExpertTensor WithStored(ExpertTensor t) => ck.Contains(t.Name) ? t with { Stored = ck.Info(t.Name).DType } : t;
        return id with { InputParts = id.InputParts.Select(WithStored).ToArray(), Output = WithStored(id.Output) };
    }
    /// <summary>Bytes of one expert in the compute dtype.</summary>
    public long ExpertBytes(int layer) => Identity(layer, 0).ElementCount * DTypeSize(DType);

    internal static int DTypeSize(ScalarType t) => t switch
    {
        ScalarType.Float32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 => 2,
        ScalarType.Float64 => 8,
        _ => throw new ArgumentException($"unsupported compute dtype {t}"),
    };

    /// <summary>Reads one expert from the checkpoint into [Input, Output] tensors on <paramref name="device"/>.</summary>
    public ExpertWeights Load(int layer, int expert, Device device)
    {
        var id = Identity(layer, expert);
        using var scope = NewDisposeScope();
        var parts = id.InputParts.Select(p => Weights.Load(p.Name, p.Shape, device, DType)).ToArray();
        var input = parts.Length == 1 ? parts[0] : cat(parts, 0);
        var output = Weights.Load(id.Output.Name, id.Output.Shape, device, DType);
        return new ExpertWeights(input.MoveToOuterDisposeScope(), output.MoveToOuterDisposeScope());
    }
}
