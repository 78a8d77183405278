namespace Kimad.Training;

/// <summary>
/// The communication time budget of a round and direction, and the byte budget it allows at an estimated rate.
/// Fixed (<c>--time-budget-ms</c>) or compute-aware (<c>--comm-ratio R</c>: R x the smoothed compute time of a
/// round, so communication costs about R times what computing the gradient costs, whatever the machine; the
/// paper's target ratio of compute to communication). A ratio replaces the fixed budget.
/// </summary>
public sealed class CommunicationBudget
{
    readonly double smoothing;
    double? computeMs;

    public CommunicationBudget(double timeBudgetMs, double commRatio = 0, double smoothing = 0.3)
    {
        if (!(timeBudgetMs > 0) && !(commRatio > 0)) throw new ArgumentException("set a positive --time-budget-ms or --comm-ratio");
        if (commRatio < 0 || double.IsNaN(commRatio)) throw new ArgumentOutOfRangeException(nameof(commRatio), commRatio, "--comm-ratio must be >= 0 (0 = use --time-budget-ms)");
        if (smoothing is not (> 0 and <= 1)) throw new ArgumentOutOfRangeException(nameof(smoothing), smoothing, "smoothing must be in (0, 1]");
        TimeBudgetMs = timeBudgetMs;
        CommRatio = commRatio;
        this.smoothing = smoothing;
    }

    public double TimeBudgetMs { get; }
    public double CommRatio { get; }

    /// <summary>Smoothed compute time of a round (ms), null before the first measurement.</summary>
    public double? ComputeMs => computeMs;

    /// <summary>Records the compute time of one round (EWMA).</summary>
    public void RecordCompute(double milliseconds)
    {
        if (!(milliseconds >= 0) || double.IsInfinity(milliseconds)) return;
        computeMs = computeMs is { } c ? smoothing * milliseconds + (1 - smoothing) * c : milliseconds;
    }

    /// <summary>Time budget in ms: R x smoothed compute with a ratio (null before any compute was measured), else the fixed budget.</summary>
    public double? BudgetMs => CommRatio > 0 ? CommRatio * computeMs : TimeBudgetMs;

    /// <summary>Byte budget at <paramref name="bitsPerSecond"/>; null when the rate or the compute time is unknown.</summary>
    public double? BudgetBytes(double? bitsPerSecond) => bitsPerSecond is { } b && BudgetMs is { } t ? b / 8 * t / 1000 : null;
}
