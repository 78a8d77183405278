using ExpertFlow.Model;

namespace ExpertFlow.Tracing;

/// <summary>
/// What a routing trace describes: the model's MoE layer count (layers with experts, in model order; dense layers are
/// not counted), experts per layer and experts per token.
/// </summary>
public sealed record RoutingTraceHeader(int NumLayers, int NumExperts, int TopK)
{
    /// <summary>The header of traces of <paramref name="model"/>.</summary>
    public static RoutingTraceHeader Of(IMoeModel model) => new(model.Experts.MoeLayers.Count, model.Experts.NumExperts, model.Config.TopK);

    /// <summary>Experts recorded per token (layers x top-k).</summary>
    public int ExpertsPerToken => NumLayers * TopK;
}
