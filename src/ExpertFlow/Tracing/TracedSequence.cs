namespace ExpertFlow.Tracing;

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
