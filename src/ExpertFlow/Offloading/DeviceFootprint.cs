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
