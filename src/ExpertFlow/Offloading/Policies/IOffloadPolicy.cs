using ExpertFlow.Model;

namespace ExpertFlow.Offloading.Policies;

/// <summary>What a policy may see about a cached expert when ranking eviction candidates.</summary>
/// <param name="Key">The expert in the slot.</param>
/// <param name="LastUse">Logical time of its last use (higher is more recent; 0 = never used).</param>
/// <param name="LoadedAt">Logical time it was loaded.</param>
/// <param name="Uses">Times it was used since it was loaded.</param>
/// <param name="Prefetched">True when it was loaded speculatively and has not been used yet.</param>
public readonly record struct CachedExpert(ExpertKey Key, long LastUse, long LoadedAt, int Uses, bool Prefetched);

/// <summary>
/// A caching policy. The engine calls the hooks in this order for each step:
/// OnStepStart, then per MoE layer OnRouted (after the engine has issued high-priority loads for the
/// misses) and OnLayerDone, then OnStepDone. Misses are always loaded by the engine on the demand
/// stream; policies decide what to prefetch, how slots are shared among layers and what to evict.
/// </summary>
public interface IOffloadPolicy
{
    /// <summary>The --policy name.</summary>
    string Name { get; }

    /// <summary>Slots this policy needs to work at all (all-resident: every expert); null: any number ≥ 1.</summary>
    int? RequiredSlots(ExpertLayout layout) => null;

    /// <summary>False: an expert's slot is emptied as soon as compute has used it (no caching).</summary>
    bool KeepAfterUse => true;

    /// <summary>Called once before the first step.</summary>
    void Attach(ICacheControl cache);

    /// <summary>A step begins; <paramref name="step"/> carries the token ids of every row (the runtime's step info).</summary>
    void OnStepStart(StepInfo step) { }

    /// <summary>The router of <paramref name="layer"/> picked <paramref name="experts"/> (distinct, over the whole batch).
    /// <paramref name="missed"/> are those that were neither cached nor loading.</summary>
    void OnRouted(int layer, IReadOnlyList<int> experts, IReadOnlyList<int> missed) { }

    /// <summary>The layer's experts have all been computed (enqueued, on CUDA).</summary>
    void OnLayerDone(int layer) { }

    void OnStepDone() { }

    /// <summary>
    /// Experts per token the policy wants the runtime's look-ahead guess to name for each next MoE layer (0: none, and
    /// the runtime skips the guess). See <see cref="OnAnticipated"/>.
    /// </summary>
    int AnticipatedExperts => 0;

    /// <summary>
    /// The runtime's guess of <paramref name="layer"/>'s experts, most likely first: the next layer's router applied to
    /// the current layer's input, made just after the current layer was routed (its misses are already issued) and
    /// before its experts run.
    /// </summary>
    void OnAnticipated(int layer, IReadOnlyList<int> experts) { }

    /// <summary>Eviction rank: the candidate with the lowest score is evicted first.</summary>
    double KeepScore(in CachedExpert expert) => expert.LastUse;

    /// <summary>Whether a prefetch of <paramref name="incoming"/> may evict <paramref name="victim"/> (default: yes; demand loads always may).</summary>
    bool MayDisplace(in CachedExpert victim, ExpertKey incoming) => true;
}
