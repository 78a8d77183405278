namespace ExpertFlow.Scheduling;

/// <summary>Experts activated per batch (mean over decode steps, per layer) with the arrival-order split and with the token scheduler.</summary>
public sealed record SchedulingMetrics(int BatchSize, double InOrder, double Scheduled, double Oracle, double MeanSplitMilliseconds, int Steps);
