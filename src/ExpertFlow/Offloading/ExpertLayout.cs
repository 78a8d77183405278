using TorchSharp;

namespace ExpertFlow.Offloading;

/// <summary>
/// What the routed experts of a model look like: which layers have them, how many per layer, and the weight
/// tensors of one expert. Every expert has the same parts in the same dtype, so one expert occupies
/// <see cref="BytesPerExpert"/> contiguous bytes in the host arena and in a device slot.
/// </summary>
public sealed class ExpertLayout
{
    readonly Dictionary<int, int> layerPosition = [];

    public ExpertLayout(IReadOnlyList<int> moeLayers, int expertsPerLayer, IReadOnlyList<ExpertPart> parts, torch.ScalarType dtype)
    {
        if (moeLayers.Count == 0) throw new ArgumentException("an expert layout needs at least one MoE layer");
        if (expertsPerLayer <= 0) throw new ArgumentException($"experts per layer must be positive, got {expertsPerLayer}");
        if (parts.Count == 0) throw new ArgumentException("an expert needs at least one weight tensor");
        MoeLayers = moeLayers.ToArray();
        for (int i = 0; i < MoeLayers.Count; i++)
            if (!layerPosition.TryAdd(MoeLayers[i], i)) throw new ArgumentException($"MoE layer {MoeLayers[i]} is listed twice");
        ExpertsPerLayer = expertsPerLayer;
        Parts = parts.ToArray();
        DType = dtype;
        ElementSize = ElementSizeOf(dtype);
        var offsets = new long[Parts.Count];
        long elements = 0;
        for (int i = 0; i < Parts.Count; i++) { offsets[i] = elements; elements += Parts[i].Elements; }
        PartElementOffsets = offsets;
        ElementsPerExpert = elements;
    }

    /// <summary>Model layer indices that hold routed experts, in execution order.</summary>
    public IReadOnlyList<int> MoeLayers { get; }
    public int ExpertsPerLayer { get; }
    public IReadOnlyList<ExpertPart> Parts { get; }
    public torch.ScalarType DType { get; }
    public int ElementSize { get; }
    /// <summary>Where each part starts inside an expert's block, in elements.</summary>
    public IReadOnlyList<long> PartElementOffsets { get; }
    public long ElementsPerExpert { get; }
    public long BytesPerExpert => ElementsPerExpert * ElementSize;
    public int TotalExperts => MoeLayers.Count * ExpertsPerLayer;
    public long TotalExpertBytes => TotalExperts * BytesPerExpert;

    /// <summary>
    /// Where a view over parts <paramref name="firstPart"/>.. of one expert's block starts and how many elements it spans
    /// (consecutive parts are contiguous); throws when <paramref name="shape"/> does not hold exactly those elements.
    /// </summary>
    public (long Start, long Elements) PartRange(int firstPart, int partCount, long[] shape)
    {
        long elements = Enumerable.Range(firstPart, partCount).Sum(p => Parts[p].Elements);
        if (shape.Aggregate(1L, (a, b) => a * b) != elements)
            throw new ArgumentException($"a view of {elements} elements cannot have shape [{string.Join(",", shape)}]");
        return (PartElementOffsets[firstPart], elements);
    }

    /// <summary>Position of a model layer among the MoE layers (0-based); throws for a layer without experts.</summary>
    public int PositionOf(int layer) => layerPosition.TryGetValue(layer, out int p) ? p
        : throw new ArgumentException($"layer {layer} has no routed experts (MoE layers: {string.Join(",", MoeLayers)})");

    public bool IsMoeLayer(int layer) => layerPosition.ContainsKey(layer);

    /// <summary>Dense index of an expert over all MoE layers: position * experts + expert.</summary>
    public int IndexOf(ExpertKey key)
    {
        if ((uint)key.Expert >= (uint)ExpertsPerLayer) throw new ArgumentOutOfRangeException(nameof(key), $"expert {key.Expert} is outside 0..{ExpertsPerLayer - 1}");
        return PositionOf(key.Layer) * ExpertsPerLayer + key.Expert;
    }

    public ExpertKey KeyAt(int index) => new(MoeLayers[index / ExpertsPerLayer], index % ExpertsPerLayer);

    public static int ElementSizeOf(torch.ScalarType dtype) => dtype switch
    {
        torch.ScalarType.Float32 or torch.ScalarType.Int32 => 4,
        torch.ScalarType.Float16 or torch.ScalarType.BFloat16 or torch.ScalarType.Int16 => 2,
        torch.ScalarType.Float64 or torch.ScalarType.Int64 => 8,
        torch.ScalarType.Int8 or torch.ScalarType.Byte or torch.ScalarType.Bool => 1,
        _ => throw new ArgumentException($"dtype {dtype} is not supported for experts"),
    };
}
