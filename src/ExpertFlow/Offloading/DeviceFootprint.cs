using ExpertFlow.Model;
using static TorchSharp.torch;

namespace ExpertFlow.Offloading;

/// <summary>What the model holds on the compute device besides the expert slots.</summary>
/// <param name="ResidentWeightBytes">Non-expert weights: embeddings, attention, norms, routers, shared experts, head.</param>
/// <param name="KvCacheBytes">The preallocated KV cache.</param>
/// <param name="ActivationBytes">Reserve for activations and temporaries of the largest step (prefill).</param>
/// <param name="RuntimeBytes">
/// What a CUDA process holds beyond its tensors: the caching allocator's segment packing (tensors of 1-10 MiB share 20
/// MiB segments), lazily loaded kernel modules, library handles (<see cref="CudaRuntimeReserve"/>; see <see cref="Of"/>).
/// </param>
/// <param name="DequantBytes">Quantized experts: the scratch an expert is dequantized into (compute dtype) and the temporaries of unpacking.</param>
public sealed record DeviceFootprint(long ResidentWeightBytes, long KvCacheBytes, long ActivationBytes, long RuntimeBytes = 0, long DequantBytes = 0)
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
    /// rows of the batch. Measured on the H200 without it: 41-44 MiB over the budget at batch 1, 118 MiB at batch 16; with
    /// 4 MiB per row, a warm-up and a measured run in one fresh process still peaked 46 MiB over the plan at batch 16
    /// (10 GiB budget), hence 8 MiB per row.
    /// </summary>
    public static long CudaGraphReserve(int rows) => (64L + 8L * Math.Max(1, rows)) << 20;

    public long Total => ResidentWeightBytes + KvCacheBytes + ActivationBytes + RuntimeBytes + DequantBytes;

    /// <summary>
    /// What <paramref name="model"/> holds on its device for <paramref name="workload"/> besides expert slots: the
    /// non-expert weights (counted from the checkpoint's tensors in the compute dtype, or the materialised ones for random
    /// weights), the caches (<see cref="IMoeModel.KvCacheBytes"/>), an activation reserve for the workload's prefill and
    /// the CUDA runtime and CUDA-graph reserves. On a CPU device nothing: the budget bounds the cached experts' RAM only.
    /// The one formula every offloaded run plans with.
    /// </summary>
    public static DeviceFootprint Of(IMoeModel model, Workload workload)
    {
        if (model.Device.type != TorchSharp.DeviceType.CUDA) return None;
        long resident = NonExpertWeightBytes(model.Experts) ?? model.DenseBytes;
        return new DeviceFootprint(resident, model.KvCacheBytes(workload), ActivationReserve(model.Config, workload, model.DType),
            CudaRuntimeReserve + CudaGraphReserve(workload.Rows), DequantReserve(model.Experts));
    }

    /// <summary>
    /// Quantized experts: one expert in the compute dtype (the provider's scratch) plus the unpacked int4 nibbles of its
    /// larger matrix (two uint8 temporaries) or nothing more for int8; 0 when the experts are not quantized.
    /// </summary>
    public static long DequantReserve(ExpertCatalog catalog)
    {
        if (catalog.PackedLayout is not { } p) return 0;
        long scratch = (p.Input.Rows * p.Input.Cols + p.Output.Rows * p.Output.Cols) * ExpertCatalog.DTypeSize(catalog.DType);
        return scratch + (p.Format.Kind == ExpertDType.Int4 ? 2 * Math.Max(p.Input.ValueBytes, p.Output.ValueBytes) : 0);
    }

    /// <summary>
    /// Bytes of the non-expert weights in the compute dtype, counted from the checkpoint's tensors (every tensor that is
    /// not a routed expert's), or null for a model without a checkpoint.
    /// </summary>
    public static long? NonExpertWeightBytes(ExpertCatalog catalog)
    {
        if (catalog.Checkpoint is not { } checkpoint) return null;
        var experts = new HashSet<string>();
        foreach (int layer in catalog.MoeLayers)
            for (int e = 0; e < catalog.NumExperts; e++)
            {
                var id = catalog.Identity(layer, e);
                foreach (var t in id.InputParts.Append(id.Output)) experts.Add(t.Name);
            }
        int size = ExpertLayout.ElementSizeOf(catalog.DType);
        long bytes = 0;
        foreach (var t in checkpoint.Tensors.Values)
        {
            var (name, elements) = catalog.Weights.Logical(t.Name) ?? (t.Name, t.ElementCount);
            if (elements > 0 && !experts.Contains(name)) bytes += elements * size;
        }
        return bytes;
    }

    /// <summary>
    /// A reserve for activations and temporaries of the workload's largest step (the prefill). Deliberately generous
    /// (every large temporary of a decoder layer counted twice, plus 128 MiB for library workspaces).
    /// </summary>
    static long ActivationReserve(MoeConfig c, Workload w, ScalarType dtype)
    {
        long e = dtype == ScalarType.Float32 ? 4 : 2;
        long n = (long)w.Rows * w.PromptTokens;
        long qd = (long)c.NumHeads * c.HeadDim, kvd = (long)c.NumKvHeads * c.HeadDim;
        long hidden = n * c.HiddenSize * e * 8;
        long attention = n * (qd + 2 * kvd) * e * 2 + (long)w.Rows * c.NumHeads * w.PromptTokens * w.Capacity * 4 * 2;
        if (c.LatentAttention) // each layer expands the cached latents of every position into per-head keys and values
            attention += (long)w.Rows * w.Capacity * c.NumHeads * (2L * c.QkNopeHeadDim + c.HeadDim + c.VHeadDim) * e * 2;
        long experts = n * c.TopK * (2L * c.HiddenSize + 2L * 2 * c.ExpertIntermediateSize) * e;
        long shared = n * 2L * 2 * Math.Max(c.SharedExpertIntermediateSize, c.IntermediateSize) * e;
        long logits = (long)w.Rows * c.VocabSize * (4 + e) * 2;
        return hidden + attention + experts + shared + logits + (128L << 20);
    }
    /// <summary>CPU mode: the budget bounds the RAM the cached experts may occupy, nothing else.</summary>
    public static DeviceFootprint None { get; } = new(0, 0, 0);
}
