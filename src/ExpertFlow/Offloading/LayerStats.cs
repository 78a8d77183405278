namespace ExpertFlow.Offloading;

/// <summary>Counters of one MoE layer.</summary>
public sealed class LayerStats
{
    public int Layer { get; init; }
    /// <summary>Distinct experts the router asked for, summed over steps.</summary>
    public long Requests { get; set; }
    /// <summary>Requests whose expert was cached or already loading when the router decided.</summary>
    public long Hits { get; set; }
    public long Misses { get; set; }
    public double HitRatio => Requests == 0 ? 0 : (double)Hits / Requests;
}
