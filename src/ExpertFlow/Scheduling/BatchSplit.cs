namespace ExpertFlow.Scheduling;

/// <summary>Two equal-size batches (indices into the scheduled sequences) and the experts they activate together.</summary>
public sealed record BatchSplit(int[] First, int[] Second, int Cost);
