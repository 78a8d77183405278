using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>
/// A named model weight: declared on the meta device with the shape config.json implies, then materialised from
/// the weight source on the compute device in the compute dtype. A weight in a fused group shares one tensor
/// (<see cref="Value"/>) with the other members: their concatenation along dim 0.
/// </summary>
internal sealed class Param
{
    public string Name { get; }
    public long[] Shape { get; }
    public Tensor Value { get; set; }
    /// <summary>The fused group this weight belongs to (declaration order), or null.</summary>
    public Param[]? Group { get; set; }

    public Param(string name, long[] shape)
    {
        Name = name;
        Shape = shape;
        Value = empty(shape, ScalarType.Float32, META);
    }

    public static readonly Device META = new(TorchSharp.DeviceType.META);
}
