namespace ExpertFlow.Offloading;

/// <summary>What the model holds on the compute device besides the expert slots.</summary>
/// <param name="ResidentWeightBytes">Non-expert weights: embeddings, attention, norms, routers, shared experts, head.</param>
/// <param name="KvCacheBytes">The preallocated KV cache.</param>
/// <param name="ActivationBytes">Reserve for activations and temporaries of the largest step (prefill).</param>
/// <param name="RuntimeBytes">
/// What a CUDA process holds beyond its tensors: the caching allocator's segment packing (tensors of 1-10 MiB share 20
/// MiB segments), lazily loaded kernel modules, library handles (<see cref="CudaRuntimeReserve"/>; see <see cref="ForModel"/>).
/// </param>
public sealed record DeviceFootprint(long ResidentWeightBytes, long KvCacheBytes, long ActivationBytes, long RuntimeBytes = 0)
{
    /// <summary>
    /// The CUDA runtime reserve: the H200 showed 0.14 GiB above the Qwen1.5-MoE-A2.7B shape's 3.46 GiB of non-expert
    /// weights right after loading (before any expert slot, KV cache or activation); without it a 4 GiB budget was
    /// exceeded by that much. 192 MiB leaves some room for other shapes.
    /// </summary>
    public const long CudaRuntimeReserve = 192L << 20;

    /// <summary>
    /// What decoding from CUDA graphs holds on top (segmented graphs of offloaded steps, see DecodeGraphs): the
    /// capture stream's cuBLAS workspace (~38 MiB on the H200) and the graphs' private memory pool, which grows with the
    /// rows of the batch. Measured on the H200 without it: 41-44 MiB over the budget at batch 1, 118 MiB at batch 16.
    /// </summary>
    public static long CudaGraphReserve(int rows) => (64L + 4L * Math.Max(1, rows)) << 20;

    public long Total => ResidentWeightBytes + KvCacheBytes + ActivationBytes + RuntimeBytes;

    /// <summary>A real model's footprint: on a CUDA device the runtime and CUDA-graph reserves for <paramref name="rows"/> rows are added.</summary>
    public static DeviceFootprint ForModel(long residentWeightBytes, long kvCacheBytes, long activationBytes, TorchSharp.torch.Device device, int rows = 1) =>
        new(residentWeightBytes, kvCacheBytes, activationBytes, device.type == TorchSharp.DeviceType.CUDA ? CudaRuntimeReserve + CudaGraphReserve(rows) : 0);
    /// <summary>CPU mode: the budget bounds the RAM the cached experts may occupy, nothing else.</summary>
    public static DeviceFootprint None { get; } = new(0, 0, 0);
}

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

    /// <param name="budgetBytes">--memory in bytes.</param>
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
                    $"--memory {MemorySize.Format(budgetBytes)} is too small: it bounds the memory of cached experts, which must hold {what}; " +
                    $"the minimum is {MemorySize.Format(minimum)} ({minimum} bytes). Raise --memory or pick another policy.");
            throw new ArgumentException(
                $"--memory {MemorySize.Format(budgetBytes)} is too small: it must hold the non-expert weights ({MemorySize.Format(footprint.ResidentWeightBytes)}), " +
                $"the KV cache ({MemorySize.Format(footprint.KvCacheBytes)}), activations ({MemorySize.Format(footprint.ActivationBytes)}), " +
                (footprint.RuntimeBytes > 0 ? $"the CUDA runtime's own memory ({MemorySize.Format(footprint.RuntimeBytes)}), " : "") + $"and {what}; " +
                $"the minimum is {MemorySize.Format(minimum)} ({minimum} bytes). Raise --memory, shorten the KV cache (fewer sequences or tokens) or pick another policy.");
        }
        long slots = (budgetBytes - footprint.Total) / perExpert;
        int count = (int)Math.Min(slots, layout.TotalExperts);
        return new MemoryPlan(budgetBytes, footprint, perExpert, count, layout.TotalExperts);
    }
}
