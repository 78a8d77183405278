using Toolkit.Runtime.Safetensors;
using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>
/// Everything an expert provider needs to know about a model's experts, without touching the device: which layers
/// are MoE layers, how many experts each has, and the checkpoint tensors of each expert. Layer numbers are the
/// model's layer indices (Switch: encoder blocks 0..N-1, then decoder blocks N..N+M-1).
/// </summary>
public sealed class ExpertCatalog(IReadOnlyList<int> moeLayers, int numExperts, bool gated, ScalarType dtype,
    Func<int, int, ExpertIdentity> identity, IWeightSource weights, ExpertFormat? format = null)
{
    /// <summary>How the providers store the experts (unquantized: in <see cref="DType"/>).</summary>
    public ExpertFormat Format { get; } = format ?? ExpertFormat.Unquantized;

    /// <summary>The packed layout of one expert (null when unquantized); every expert has the shapes of layer MoeLayers[0]'s.</summary>
    public PackedExpertLayout? PackedLayout => Format.IsQuantized
        ? packed ??= PackedExpertLayout.For(Format, Identity(MoeLayers[0], 0).InputShape, Identity(MoeLayers[0], 0).Output.Shape)
        : null;
    PackedExpertLayout? packed;

    /// <summary>
    /// One expert packed in <see cref="Format"/> from its values in the compute dtype (so every provider packs the same
    /// numbers), written to <paramref name="destination"/> (<see cref="PackedExpertLayout.Bytes"/>).
    /// </summary>
    public void Pack(int layer, int expert, Span<byte> destination)
    {
        var layout = PackedLayout ?? throw new InvalidOperationException("unquantized experts are not packed");
        var w = Load(layer, expert, CPU);
        using (w.Input) using (w.Output)
            layout.Pack(ExpertQuantizer.ToFloats(w.Input), ExpertQuantizer.ToFloats(w.Output), destination);
    }

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
    /// <summary>The same experts stored in another format.</summary>
    public ExpertCatalog WithFormat(ExpertFormat format) => new(MoeLayers, NumExperts, Gated, DType, identity, Weights, format);

    /// <summary>Bytes of one expert in the compute dtype.</summary>
    public long ExpertBytes(int layer) => Identity(layer, 0).ElementCount * DTypeSize(DType);

    internal static int DTypeSize(ScalarType t) => t switch
    {
        ScalarType.Float32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 => 2,
        ScalarType.Float64 => 8,
        _ => throw new ArgumentException($"unsupported compute dtype {t}"),
    };

    /// <summary>One expert tensor; a row of a stacked tensor is read alone from a memory-mapped checkpoint.</summary>
    Tensor LoadPart(ExpertTensor t, Device device)
    {
        if (t.Row is not int row) return Weights.Load(t.Name, t.Shape, device, DType);
        Weights.Check(t.Name, t.StoredShape(NumExperts));
        if (Checkpoint is { } ck)
        {
            var info = ck.Info(t.Name);
            var stored = info.DType.ToScalarType() ?? throw new InvalidDataException($"Tensor '{t.Name}' in '{info.FilePath}' is stored as {info.DType}, which cannot be read.");
            long rowBytes = t.Shape.Aggregate(1L, (a, b) => a * b) * ExpertCatalog.StoredSize(stored);
            using var cpu = empty(t.Shape, stored, CPU);
            ck.GetBytes(t.Name).Slice(checked((int)(row * rowBytes)), checked((int)rowBytes)).CopyTo(cpu.bytes);
            return cpu.to(DType, device);
        }
        using var all = Weights.Load(t.Name, t.StoredShape(NumExperts), device, DType);
        return all[row].clone();
    }

    internal static int StoredSize(ScalarType t) => t switch
    {
        ScalarType.Float64 => 8,
        ScalarType.Float32 => 4,
        _ => 2,
    };

    /// <summary>Reads one expert from the checkpoint into [Input, Output] tensors on <paramref name="device"/>.</summary>
    public ExpertWeights Load(int layer, int expert, Device device)
    {
        var id = Identity(layer, expert);
        using var scope = NewDisposeScope();
        var parts = id.InputParts.Select(p => LoadPart(p, device)).ToArray();
        var input = parts.Length == 1 ? parts[0] : cat(parts, 0);
        var output = LoadPart(id.Output, device);
        return new ExpertWeights(input.MoveToOuterDisposeScope(), output.MoveToOuterDisposeScope());
    }
}
