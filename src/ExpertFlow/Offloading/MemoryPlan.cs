using Toolkit.Runtime;

namespace ExpertFlow.Offloading;

/// <summary>
/// How a memory budget is split: the fixed footprint first, then as many expert slots as fit (never more
/// than there are experts). Too small a budget is an error that states the minimum.
/// </summary>
public sealed record MemoryPlan(long BudgetBytes, DeviceFootprint Footprint, long BytesPerExpert, int Slots, int TotalExperts)
{
    /// <summary>At least this many slots: one expert computing while the next one loads.</summary>
    public const int MinimumSlots = 2;

    public long SlotBytes => Slots * BytesPerExpert;
    /// <summary>What the plan accounts for on the device: footprint + slots (never above the budget).</summary>
    public long PlannedBytes => Footprint.Total + SlotBytes;
    public double CachedFraction => TotalExperts == 0 ? 0 : (double)Slots / TotalExperts;

    /// <param name="budgetBytes">The memory budget in bytes.</param>
    /// <param name="footprint">What the model holds besides the slots.</param>
    /// <param name="layout">The experts.</param>
    /// <param name="requiredSlots">Slots the policy needs (all-resident: all experts), or null.</param>
    /// <param name="policyName">For the error message.</param>
    public static MemoryPlan Create(long budgetBytes, DeviceFootprint footprint, ExpertLayout layout, int? requiredSlots = null, string policyName = "")
    {
        long perExpert = layout.BytesPerExpert;
        int needed = Math.Min(requiredSlots ?? MinimumSlots, layout.TotalExperts);
        long minimum = footprint.Total + needed * perExpert;
        if (budgetBytes < minimum)
        {
            string what = requiredSlots is int r && r >= layout.TotalExperts
                ? $"policy '{policyName}' keeps all {layout.TotalExperts} experts on the device ({MemorySize.Format(layout.TotalExpertBytes)})"
                : $"{needed} expert slots of {MemorySize.Format(perExpert)}";
            if (footprint.Total == 0)
                throw new ArgumentException(
                    $"memory budget {MemorySize.Format(budgetBytes)} is too small: it bounds the memory of cached experts, which must hold {what}; " +
                    $"the minimum is {MemorySize.Format(minimum)} ({minimum} bytes). Raise the memory budget or pick another policy.");
            throw new ArgumentException(
                $"memory budget {MemorySize.Format(budgetBytes)} is too small: it must hold the non-expert weights ({MemorySize.Format(footprint.ResidentWeightBytes)}), " +
                $"the KV cache ({MemorySize.Format(footprint.KvCacheBytes)}), activations ({MemorySize.Format(footprint.ActivationBytes)}), " +
                (footprint.RuntimeBytes > 0 ? $"the CUDA runtime's own memory ({MemorySize.Format(footprint.RuntimeBytes)}), " : "") +
                (footprint.DequantBytes > 0 ? $"the dequantization scratch ({MemorySize.Format(footprint.DequantBytes)}), " : "") + $"and {what}; " +
                $"the minimum is {MemorySize.Format(minimum)} ({minimum} bytes). Raise the memory budget, shorten the KV cache (fewer sequences or tokens) or pick another policy.");
        }
        long slots = (budgetBytes - footprint.Total) / perExpert;
        int count = (int)Math.Min(slots, layout.TotalExperts);
        return new MemoryPlan(budgetBytes, footprint, perExpert, count, layout.TotalExperts);
    }
}
