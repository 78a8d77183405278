namespace ExpertFlow.Offloading.Policies;

/// <summary>
/// The cache operations a policy drives. Everything runs on the compute thread; calls are cheap.
/// </summary>
public interface ICacheControl
{
    ExpertLayout Layout { get; }
    /// <summary>Slots on the compute device (fixed for the run).</summary>
    int SlotCount { get; }
    /// <summary>Logical clock: advances on every expert use.</summary>
    long Now { get; }
    /// <summary>Decode/prefill steps started so far.</summary>
    int Step { get; }

    /// <summary>True when the expert is in a slot or on its way there.</summary>
    bool IsCachedOrLoading(ExpertKey key);

    /// <summary>
    /// Loads the expert ahead of need on the given stream. Evicts only what the eviction rules allow
    /// (never experts in use, being loaded, routed for the current layer, or prefetched-and-still-awaited);
    /// returns false when nothing could be evicted (stop prefetching then). True when already cached.
    /// </summary>
    bool Prefetch(ExpertKey key, TransferPriority priority = TransferPriority.Prefetch);

    /// <summary>
    /// Slots each MoE layer may hold (index = position in <see cref="ExpertLayout.MoeLayers"/>). A layer at its
    /// quota evicts its own experts first; a layer under quota takes slots from layers above theirs. Null:
    /// one shared pool. The quotas should sum to <see cref="SlotCount"/>.
    /// </summary>
    void SetLayerQuotas(IReadOnlyList<int>? slotsPerLayer);

    /// <summary>Puts the expert at the front of the eviction queue (e.g. predicted but not routed).</summary>
    void MarkEvictFirst(ExpertKey key);
}
