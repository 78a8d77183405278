using ExpertFlow.Model;

namespace ExpertFlow.Offloading.Policies;

/// <summary>
/// A forecast of the routing path of the coming step (the hook ExpertFlow's routing-path predictor plugs
/// into): for every MoE layer position and expert, a score in [0, 1] that the router will pick it for at
/// least one token of the batch.
/// </summary>
public interface IRoutingForecast
{
    /// <summary>Scores [MoE layer position][expert] for the step, or null when no forecast is available.</summary>
    float[][]? Forecast(StepInfo step);
}

/// <summary>
/// PLEC mechanics (Predictive Locality-aware Expert Caching), driven by any <see cref="IRoutingForecast"/>:
/// at each step the slots are shared among layers in proportion to predicted demand; predicted experts of
/// the next <c>lookahead</c> layers are prefetched (highest score first) while the current layer computes;
/// correction is the engine's: predicted-but-unrouted experts go to the front of the eviction queue when
/// their layer ends, misses are loaded at once on the high-priority stream.
/// </summary>
public sealed class PredictivePolicy(IRoutingForecast forecast, string name = "expertflow", float threshold = 0.5f, int lookahead = 2) : IOffloadPolicy
{
    ICacheControl cache = null!;
    float[][]? scores;

    public string Name => name;
    public void Attach(ICacheControl cache) => this.cache = cache;

    public void OnStepStart(StepInfo step)
    {
        scores = forecast.Forecast(step);
        if (scores == null) return;
        cache.SetLayerQuotas(ProportionalQuotas(scores.Select(l => (double)l.Count(s => s >= threshold)).ToArray(), cache.SlotCount));
        // Prefetch the first layers now; later layers are prefetched as the step advances.
        for (int p = 0; p < Math.Min(lookahead, scores.Length); p++) PrefetchLayer(p);
    }

    public void OnRouted(int layer, IReadOnlyList<int> experts, IReadOnlyList<int> missed)
    {
        if (scores == null) return;
        int position = cache.Layout.PositionOf(layer);
        if (position + lookahead < scores.Length) PrefetchLayer(position + lookahead);
    }

    void PrefetchLayer(int position)
    {
        var s = scores![position];
        foreach (int e in Enumerable.Range(0, s.Length).Where(e => s[e] >= threshold).OrderByDescending(e => s[e]))
            if (!cache.Prefetch(new ExpertKey(cache.Layout.MoeLayers[position], e))) break;
    }

    /// <summary>Eviction: lowest predicted score for this step first, then least recently used.</summary>
    public double KeepScore(in CachedExpert expert) =>
        (scores?[cache.Layout.PositionOf(expert.Key.Layer)][expert.Key.Expert] ?? 0) + expert.LastUse * 1e-12;

    /// <summary>Slots in proportion to <paramref name="demand"/> (at least one per layer when slots allow), summing to <paramref name="slots"/>.</summary>
    public static int[] ProportionalQuotas(IReadOnlyList<double> demand, int slots)
    {
        int layers = demand.Count;
        double total = demand.Sum();
        if (total <= 0) return LruPolicy.EvenQuotas(slots, layers);
        int floor = slots >= layers ? 1 : 0;
        int spare = slots - floor * layers;
        var exact = demand.Select(d => d / total * spare).ToArray();
        var q = exact.Select(x => floor + (int)Math.Floor(x)).ToArray();
        int left = slots - q.Sum();
        foreach (int l in Enumerable.Range(0, layers).OrderByDescending(l => exact[l] - Math.Floor(exact[l])).Take(left)) q[l]++;
        return q;
    }
}
