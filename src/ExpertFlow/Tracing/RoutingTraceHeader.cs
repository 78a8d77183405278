namespace ExpertFlow.Tracing;

/// <summary>What a routing trace describes: the model's layer count, experts per layer and experts per token.</summary>
public sealed record RoutingTraceHeader(int NumLayers, int NumExperts, int TopK)
{
    /// <summary>Experts recorded per token (layers x top-k).</summary>
    public int ExpertsPerToken => NumLayers * TopK;
}
