namespace ExpertFlow.Offloading;

/// <summary>One weight tensor of an expert, e.g. "gate_proj" [1408, 2048].</summary>
/// <param name="Name">Short name of the part, as the runtime asks for it (e.g. "gate_proj", "w1").</param>
/// <param name="Shape">Shape of the weight.</param>
public sealed record ExpertPart(string Name, long[] Shape)
{
    public long Elements => Shape.Aggregate(1L, (a, b) => a * b);
}
