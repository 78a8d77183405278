namespace ExpertFlow.Offloading.Policies;

/// <summary>
/// SE-MoE-style preloading: while a layer computes, the next layers' likely experts (by recent routing
/// frequency, an exponential moving average) are loaded on the prefetch stream into that layer's share of
/// the slots (slots split evenly among layers, like a ring buffer of per-layer buffers).
/// </summary>
public sealed class NextLayerPolicy(int lookahead = 1, double decay = 0.8) : IOffloadPolicy
{
    ICacheControl cache = null!;
    double[][] frequency = [];
    double[] distinctPerStep = [];
    int[] quota = [];

    public string Name => "next-layer";

    public void Attach(ICacheControl cache)
    {
        this.cache = cache;
        var layout = cache.Layout;
        frequency = layout.MoeLayers.Select(_ => new double[layout.ExpertsPerLayer]).ToArray();
        distinctPerStep = new double[layout.MoeLayers.Count];
        quota = LruPolicy.EvenQuotas(cache.SlotCount, layout.MoeLayers.Count);
        cache.SetLayerQuotas(quota);
    }

    public void OnRouted(int layer, IReadOnlyList<int> experts, IReadOnlyList<int> missed)
    {
        var layout = cache.Layout;
        int position = layout.PositionOf(layer);
        var f = frequency[position];
        for (int e = 0; e < f.Length; e++) f[e] *= decay;
        foreach (int e in experts) f[e] += 1 - decay;
        distinctPerStep[position] = distinctPerStep[position] == 0 ? experts.Count : decay * distinctPerStep[position] + (1 - decay) * experts.Count;

        // Preload the next layers (wrapping to the first layers of the next step, as a ring).
        for (int d = 1; d <= lookahead; d++)
        {
            int next = (position + d) % layout.MoeLayers.Count;
            if (frequency[next].All(v => v == 0)) continue; // nothing seen yet for that layer
            int want = Math.Min(quota[next], (int)Math.Ceiling(distinctPerStep[next]));
            var order = Enumerable.Range(0, layout.ExpertsPerLayer).OrderByDescending(e => frequency[next][e]).Take(want);
            foreach (int e in order)
                if (!cache.Prefetch(new ExpertKey(layout.MoeLayers[next], e))) break;
        }
    }

    public double KeepScore(in CachedExpert expert) =>
        frequency[cache.Layout.PositionOf(expert.Key.Layer)][expert.Key.Expert] + expert.LastUse * 1e-12;
}
