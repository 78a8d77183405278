using Toolkit.Runtime;

namespace ExpertFlow.Offloading;

/// <summary>
/// How much device memory an offloaded run may hold: a number of bytes (everything the model holds on the device; on a
/// CPU device, the cached experts only), a share of all experts to cache (evaluation sweeps: the bytes then follow from
/// the footprint), or no limit (every expert gets a slot).
/// </summary>
public sealed record MemoryBudget
{
    MemoryBudget(long? bytes, double? expertShare, int? slots = null)
    {
        BytesLimit = bytes;
        ExpertShare = expertShare;
        Slots = slots;
    }

    /// <summary>The budget in bytes, when given that way.</summary>
    public long? BytesLimit { get; }
    /// <summary>The share of all experts to cache, when given that way.</summary>
    public double? ExpertShare { get; }
    /// <summary>The number of expert slots, when given that way.</summary>
    public int? Slots { get; }

    /// <summary>The footprint plus exactly this many expert slots (at least the policy's minimum).</summary>
    public static MemoryBudget ExpertSlots(int count) =>
        count >= 1 ? new(null, null, count) : throw new ArgumentException($"a cache needs at least one expert slot (got {count})");

    /// <summary>Everything the model holds on the device, in bytes.</summary>
    public static MemoryBudget Bytes(long bytes) =>
        bytes >= 0 ? new(bytes, null) : throw new ArgumentException($"a memory budget cannot be negative (got {bytes} bytes)");

    /// <summary>The footprint plus slots for this share of all experts (at least the policy's minimum).</summary>
    public static MemoryBudget Share(double fraction) =>
        fraction > 0 && fraction <= 1 ? new(null, fraction) : throw new ArgumentException($"a cache share must be in (0, 1] (got {fraction})");

    /// <summary>No limit: every expert gets a slot.</summary>
    public static MemoryBudget Unlimited { get; } = new(null, null);

    /// <summary>The budget in bytes for a model with this footprint and these experts.</summary>
    public long Resolve(DeviceFootprint footprint, ExpertLayout layout)
    {
        if (BytesLimit is long b) return b;
        if (ExpertShare is double f)
        {
            int slots = Math.Max(MemoryPlan.MinimumSlots, (int)Math.Round(f * layout.TotalExperts));
            return footprint.Total + slots * layout.BytesPerExpert + layout.BytesPerExpert / 2;
        }
        if (Slots is int n) return footprint.Total + Math.Min(n, layout.TotalExperts) * layout.BytesPerExpert + layout.BytesPerExpert / 2;
        return footprint.Total + layout.TotalExpertBytes;
    }

    public override string ToString() => BytesLimit is long b ? MemorySize.Format(b) : ExpertShare is double f ? $"{f:P0} of experts"
        : Slots is int n ? $"{n} expert slots" : "unlimited";
}
