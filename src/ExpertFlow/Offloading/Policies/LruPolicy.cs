namespace ExpertFlow.Offloading.Policies;

/// <summary>
/// Per-layer LRU, as mixtral-offloading: the slots are split evenly among the MoE layers; a miss evicts
/// the least recently used expert of its own layer. No prefetching.
/// </summary>
public sealed class LruPolicy : IOffloadPolicy
{
    public string Name => "lru";
    public void Attach(ICacheControl cache) => cache.SetLayerQuotas(EvenQuotas(cache.SlotCount, cache.Layout.MoeLayers.Count));
    public double KeepScore(in CachedExpert expert) => expert.LastUse;

    /// <summary>Slots split as evenly as possible (the first layers get the remainder).</summary>
    public static int[] EvenQuotas(int slots, int layers) =>
        Enumerable.Range(0, layers).Select(l => slots / layers + (l < slots % layers ? 1 : 0)).ToArray();
}
