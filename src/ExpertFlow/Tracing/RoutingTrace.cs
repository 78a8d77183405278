namespace ExpertFlow.Tracing;

/// <summary>What a routing trace describes: the model's layer count, experts per layer and experts per token.</summary>
public sealed record RoutingTraceHeader(int NumLayers, int NumExperts, int TopK)
{
    /// <summary>Experts recorded per token (layers x top-k).</summary>
    public int ExpertsPerToken => NumLayers * TopK;
}

/// <summary>
/// The routing of one token: which sequence and position it is, its token id, and per layer the top-k
/// experts the router chose (layer-major: Experts[layer * TopK + j], j-th highest router weight first).
/// </summary>
public sealed record TokenRoute(int SequenceId, int Position, int TokenId, short[] Experts);

/// <summary>All routed tokens of one sequence, in position order.</summary>
public sealed record TracedSequence(int SequenceId, int[] TokenIds, short[][] Experts)
{
    public int Length => TokenIds.Length;

    /// <summary>Whether token <paramref name="position"/> used <paramref name="expert"/> in <paramref name="layer"/>.</summary>
    public bool Uses(int position, int layer, int expert, int topK)
    {
        var e = Experts[position];
        for (int j = 0; j < topK; j++) if (e[layer * topK + j] == expert) return true;
        return false;
    }
}
