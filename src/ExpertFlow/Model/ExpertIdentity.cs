namespace ExpertFlow.Model;

/// <summary>
/// One checkpoint tensor of an expert: its role ("gate", "up" or "down"; Switch: "wi", "wo"), name, shape, and the
/// dtype it is stored in (null for random weights, which are made in the compute dtype). With <see cref="Row"/> the
/// checkpoint tensor holds every expert of the layer stacked ([experts, ..Shape], GraniteMoE) and this expert is that row.
/// </summary>
public sealed record ExpertTensor(string Role, string Name, long[] Shape, Toolkit.Runtime.Safetensors.SafetensorsDType? Stored = null, int? Row = null)
{
    /// <summary>The shape of the checkpoint tensor: <see cref="Shape"/>, or [experts, ..Shape] for a stacked one.</summary>
    public long[] StoredShape(int experts) => Row is null ? Shape : [experts, .. Shape];
}

/// <summary>
/// The host-side identity of one expert: which checkpoint tensors make it, in the order they are laid out in
/// <see cref="ExpertWeights"/> (Input parts first, in row order, then Output).
/// </summary>
public sealed record ExpertIdentity(int Layer, int Expert, IReadOnlyList<ExpertTensor> InputParts, ExpertTensor Output)
{
    /// <summary>Shape of <see cref="ExpertWeights.Input"/>: the input parts stacked along rows.</summary>
    public long[] InputShape => [InputParts.Sum(p => p.Shape[0]), InputParts[0].Shape[1]];
    public long ElementCount => InputParts.Sum(p => p.Shape[0] * p.Shape[1]) + Output.Shape[0] * Output.Shape[1];
}
