using ExpertFlow.Model;

namespace ExpertFlow.Offloading.Policies;

/// <summary>
/// PLEC mechanics (Predictive Locality-aware Expert Caching), driven by any <see cref="IRoutingForecast"/>:
/// at each step the slots are shared among layers in proportion to predicted demand (the expected number of
/// distinct experts per layer); the most likely experts of the next <c>lookahead</c> layers, as many as each
/// layer's share, are prefetched (highest score first) while the current layer computes;
/// correction is the engine's: predicted-but-unrouted experts go to the front of the eviction queue when
/// their layer ends, misses are loaded at once on the high-priority stream. Experts scored below
/// <c>prefetchFloor</c> are never prefetched, even to fill a layer's share: a high floor keeps the share's other slots
/// for experts retained from earlier steps (fewer copies when the link is the bottleneck), a low one prefetches
/// unlikely experts too (fewer misses when the link has time to spare). Eviction keeps what is predicted to be needed
/// soonest (<see cref="Value"/>), and a prefetch never displaces an expert worth as much as itself.
/// <para>Across steps: when the forecast knows the next step (<see cref="IRoutingForecast.ForecastUpcoming"/>, two batches in
/// flight), the look-ahead runs on past the last layer into the next step's first layers, so their copies use the link
/// while this step's last layers, its logits and the host's turn-around run, instead of starting when that step starts
/// (<c>crossStep</c>, on by default).</para>
/// </summary>
public sealed class PredictivePolicy(IRoutingForecast forecast, string name = "expertflow", float threshold = 0.5f, int lookahead = 2,
    float prefetchFloor = PredictivePolicy.DefaultPrefetchFloor, bool crossStep = true) : IOffloadPolicy
{
    /// <summary>The default <c>prefetchFloor</c>.</summary>
    public const float DefaultPrefetchFloor = 0.3f;

    ICacheControl cache = null!;
    StepInfo? step;
    float[][]? scores;
    float[][]? upcoming;
    int routedPosition = -1;
    int[]? quotas;
    bool decoding;

    /// <summary>Decode-step misses of experts the forecast had predicted (score at least the threshold): lost to the cache mechanics, not to prediction.</summary>
    public long PredictedMisses { get; private set; }
    /// <summary>Decode-step misses of experts the forecast had not predicted.</summary>
    public long UnpredictedMisses { get; private set; }

    public string Name => name;
    public void Attach(ICacheControl cache) => this.cache = cache;

    /// <summary>Prefetches issued for the next step's layers before it started (cross-step look-ahead).</summary>
    public long CrossStepPrefetches { get; private set; }

    public void OnStepStart(StepInfo step)
    {
        this.step = step;
        upcoming = null;
        routedPosition = -1;
        scores = forecast.Forecast(step);
        decoding = !step.IsPrefill;
        if (scores == null) return;
        // Demand of a layer = the expected number of distinct experts it will need (the sum of its scores): a layer
        // whose second expert is uncertain still needs two slots at batch 1 (top-2), which a count of confident
        // predictions (scores >= threshold) would deny it.
        quotas = ProportionalQuotas(scores.Select(l => l.Sum(s => (double)s)).ToArray(), cache.SlotCount);
        cache.SetLayerQuotas(quotas);
        // Prefetch the first layers now; later layers are prefetched as the step advances.
        for (int p = 0; p < Math.Min(lookahead, scores.Length); p++) PrefetchLayer(p);
    }

    public void OnRouted(int layer, IReadOnlyList<int> experts, IReadOnlyList<int> missed)
    {
        if (scores == null) return;
        int position = routedPosition = cache.Layout.PositionOf(layer);
        if (decoding)
            foreach (int e in missed)
                if (scores[position][e] >= threshold) PredictedMisses++; else UnpredictedMisses++;
        int ahead = position + lookahead;
        if (ahead < scores.Length) PrefetchLayer(ahead);
        // asked late on purpose: the other batch's prediction may be made on a worker thread during this step
        else if (crossStep && decoding && step != null && (upcoming ??= forecast.ForecastUpcoming(step)) is { } next)
            CrossStepPrefetches += PrefetchLayer(ahead - scores.Length, next);
    }

    void PrefetchLayer(int position) => PrefetchLayer(position, scores!);

    /// <summary>
    /// Prefetches the layer's most likely experts, as many as its quota holds (at least those scoring at least the
    /// threshold); returns the copies it started.
    /// </summary>
    int PrefetchLayer(int position, float[][] from)
    {
        var s = from[position];
        int budget = Math.Max(quotas?[position] ?? 0, s.Count(x => x >= threshold)), started = 0;
        foreach (int e in Enumerable.Range(0, s.Length).Where(e => s[e] >= prefetchFloor).OrderByDescending(e => s[e]).Take(budget))
        {
            var key = new ExpertKey(cache.Layout.MoeLayers[position], e);
            bool present = cache.IsCachedOrLoading(key);
            if (cache.Prefetch(key) && !present) started++; // a refusal does not stop the next, lower-scored one
        }
        return started;
    }

    /// <summary>Eviction: lowest <see cref="Value"/> first, then least recently used.</summary>
    public double KeepScore(in CachedExpert expert) => Value(expert.Key) + expert.LastUse * 1e-12;

    /// <summary>A prefetch displaces only an expert worth less than itself: never one needed as soon or sooner.</summary>
    public bool MayDisplace(in CachedExpert victim, ExpertKey incoming) => Value(victim.Key) < Value(incoming);

    /// <summary>
    /// What keeping an expert is worth: the predicted probability that the next visit of its layer uses it, divided by how
    /// many layers away that visit is (Belady's rule with probabilities: of two experts sure to be needed, keep the one
    /// needed sooner). A layer this step has not reached yet is visited in this step (this step's scores); a layer it has
    /// passed, in the next step (the next step's scores when known, else this step's: the same rows continue).
    /// Without this distance, experts retained from the last step and needed later in this one were displaced by
    /// prefetches for nearer layers and copied back: at batch 16, where a step needs more experts than the cache holds,
    /// a perfect forecast copied every expert of every step (test
    /// <c>Plec_with_a_perfect_forecast_retains_experts_when_a_step_needs_more_than_the_cache_holds</c>).
    /// </summary>
    double Value(ExpertKey key)
    {
        if (scores == null) return 0;
        int position = cache.Layout.PositionOf(key.Layer), layers = scores.Length;
        bool thisStep = position > routedPosition;
        var from = thisStep ? scores : upcoming ?? scores;
        int distance = thisStep ? position - routedPosition : position - routedPosition + layers;
        return from[position][key.Expert] / distance;
    }

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
