namespace ExpertFlow.Offloading;

/// <summary>One routed expert: the model's layer index and the expert's index within that layer.</summary>
public readonly record struct ExpertKey(int Layer, int Expert)
{
    public override string ToString() => $"L{Layer}E{Expert}";
}
