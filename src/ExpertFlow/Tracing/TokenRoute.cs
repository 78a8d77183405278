namespace ExpertFlow.Tracing;

/// <summary>
/// The routing of one token: which sequence and position it is, its token id, and per layer the top-k
/// experts the router chose (layer-major: Experts[layer * TopK + j], j-th highest router weight first).
/// </summary>
public sealed record TokenRoute(int SequenceId, int Position, int TokenId, short[] Experts);
