namespace ExpertFlow.Offloading.Policies;

/// <summary>Every expert on the device, loaded once before the first step; needs a budget that holds them all.</summary>
public sealed class AllResidentPolicy : IOffloadPolicy
{
    public string Name => "all-resident";
    public int? RequiredSlots(ExpertLayout layout) => layout.TotalExperts;

    public void Attach(ICacheControl cache)
    {
        for (int i = 0; i < cache.Layout.TotalExperts; i++)
            if (!cache.Prefetch(cache.Layout.KeyAt(i), TransferPriority.Demand))
                throw new InvalidOperationException($"all-resident: no slot for expert {cache.Layout.KeyAt(i)}");
    }
}
