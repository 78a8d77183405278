using ExpertFlow.Model;

namespace ExpertFlow.Offloading.Policies;

/// <summary>
/// Adds look-ahead prefetching to any policy (<c>--policy lru+lookahead</c>, <c>next-layer+lookahead:2</c>): while a
/// MoE layer's experts compute, the runtime applies the next MoE layer's router to the current layer's input and names
/// each token's <paramref name="count"/> most likely next experts; up to <paramref name="count"/> of them that are not
/// on the device yet are copied, most voted first. The copies queue on the demand stream behind the current layer's
/// misses (<see cref="TransferPriority.BehindDemand"/>), so a guess only uses the link in the gap between this layer's
/// last copy and the next layer's first, where it would otherwise idle; a wrong guess delays the next layer's first
/// miss by at most the rest of one copy. Everything else (eviction, quotas, other prefetching) is the inner policy's;
/// a guess the next layer does not route is evicted first when that layer ends (the engine's correction).
/// </summary>
public sealed class LookaheadPolicy(IOffloadPolicy inner, int count = 1) : IOffloadPolicy
{
    /// <summary>The suffix that adds look-ahead to a policy name (optionally <c>:N</c> experts per layer).</summary>
    public const string Suffix = "+lookahead";

    ICacheControl cache = null!;

    public IOffloadPolicy Inner => inner;
    public int Count => count;
    public string Name => inner.Name + Suffix + (count == 1 ? "" : $":{count}");
    public int? RequiredSlots(ExpertLayout layout) => inner.RequiredSlots(layout);
    public bool KeepAfterUse => inner.KeepAfterUse;

    public void Attach(ICacheControl cache)
    {
        if (count < 1) throw new ArgumentException($"'{Name}': the look-ahead needs at least one expert per layer");
        this.cache = cache;
        inner.Attach(cache);
    }

    public void OnStepStart(StepInfo step) => inner.OnStepStart(step);
    public void OnRouted(int layer, IReadOnlyList<int> experts, IReadOnlyList<int> missed) => inner.OnRouted(layer, experts, missed);
    public void OnLayerDone(int layer) => inner.OnLayerDone(layer);
    public void OnStepDone() => inner.OnStepDone();
    public double KeepScore(in CachedExpert expert) => inner.KeepScore(expert);
    public bool MayDisplace(in CachedExpert victim, ExpertKey incoming) => inner.MayDisplace(victim, incoming);
    public int AnticipatedExperts => count;

    public void OnAnticipated(int layer, IReadOnlyList<int> experts)
    {
        inner.OnAnticipated(layer, experts);
        int copies = 0;
        foreach (int e in experts)
        {
            if (copies == count) break;
            var key = new ExpertKey(layer, e);
            if (cache.IsCachedOrLoading(key)) continue;
            if (!cache.Prefetch(key, TransferPriority.BehindDemand)) break; // no slot may be given up for a guess
            copies++;
        }
    }
}
