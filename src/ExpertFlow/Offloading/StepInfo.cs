namespace ExpertFlow.Offloading;

/// <summary>What the runtime tells the engine at the start of a step.</summary>
/// <param name="Index">0 for the prefill, then one per decode step.</param>
/// <param name="Tokens">Token ids being processed, per sequence (null when the runtime does not pass them).</param>
public sealed record StepInfo(int Index, IReadOnlyList<IReadOnlyList<long>>? Tokens = null);
