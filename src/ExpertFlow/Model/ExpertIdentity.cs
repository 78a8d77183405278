namespace ExpertFlow.Model;

/// <summary>
/// One checkpoint tensor of an expert: its role ("gate", "up" or "down"; Switch: "wi", "wo"), name, shape, and the
/// dtype it is stored in (null for random weights, which are made in the compute dtype).
/// </summary>
public sealed record ExpertTensor(string Role, string Name, long[] Shape, Toolkit.Runtime.Safetensors.SafetensorsDType? Stored = null);

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
