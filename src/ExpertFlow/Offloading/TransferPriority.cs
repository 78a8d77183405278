namespace ExpertFlow.Offloading;

/// <summary>Which copy queue a transfer uses: misses the router has just asked for, or speculative loads.</summary>
public enum TransferPriority
{
    /// <summary>The router needs it now: the high-priority on-demand stream.</summary>
    Demand,
    /// <summary>Predicted or speculative: the low-priority prefetch stream.</summary>
    Prefetch,
    /// <summary>
    /// Speculative, but queued on the demand stream behind the copies already issued there: it never shares the link
    /// with them (demand copies issued later wait for it). For guesses made just before the link would idle.
    /// </summary>
    BehindDemand,
}
