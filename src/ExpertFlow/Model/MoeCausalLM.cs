using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Toolkit.Runtime.Safetensors;
using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>
/// Decoder-only MoE language model (Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE, DeepSeek-MoE v1/V2/V3, GraniteMoE, gpt-oss)
/// with a preallocated KV cache.
/// Built on the meta device from config.json, then materialised from the safetensors checkpoint.
/// </summary>
public sealed partial class MoeCausalLM : MoeModelBase, DecodeGraphs.IStepBody
{
    readonly Param embed, finalNorm, lmHead;
    readonly Layer[] layers;
    readonly RopeTables rope;
    long step;
    readonly DecodeGraphs? graphs;     // whole decode steps (resident stacked experts)
    readonly DecodeGraphs? segmented;  // decode steps broken at every MoE layer (experts through the provider, eagerly)
    readonly int[] moeIndex;      // decoder layers with a MoE block, in order
    StepContext? segmentStep;     // the step a segmented replay serves (routing for observers)

    sealed record Layer(Param InputNorm, Param PostNorm, IDecoderAttention Attention, MoeBlock? Moe, Param? Gate, Param? Up, Param? Down);

    MoeCausalLM(IWeightSource checkpoint, MoeConfig c, ModelLoadOptions o) : base(checkpoint, c, o)
    {
        var (expertsPrefix, gateName, upName, downName) = ExpertNames(c.Family);
        long h = c.HiddenSize;
        embed = ps.Declare("model.embed_tokens.weight", c.VocabSize, h);
        layers = new Layer[c.NumLayers];
        for (int i = 0; i < c.NumLayers; i++)
        {
            string p = $"model.layers.{i}";
            IDecoderAttention attn = c.LatentAttention ? new LatentAttention(ps, checkpoint, c, i, $"{p}.self_attn")
                : new DecoderAttention(ps, checkpoint, c, i, $"{p}.self_attn");
            var inNorm = ps.Declare($"{p}.input_layernorm.weight", h);
            var postNorm = ps.Declare($"{p}.post_attention_layernorm.weight", h);
            if (c.MoeLayers[i])
            {
                var moe = c.Family switch
                {
                    ModelFamily.Mixtral => new MoeBlock(ps, c, i, $"{p}.block_sparse_moe", "gate.weight", false, "", null),
                    ModelFamily.Qwen2Moe => new MoeBlock(ps, c, i, $"{p}.mlp", "gate.weight", c.SharedExpertIntermediateSize > 0,
                        $"{p}.mlp.shared_expert", $"{p}.mlp.shared_expert_gate.weight"),
                    ModelFamily.Deepseek => new MoeBlock(ps, c, i, $"{p}.mlp", "gate.weight", c.SharedExpertIntermediateSize > 0,
                        $"{p}.mlp.shared_experts", null),
                    ModelFamily.DeepseekV2 or ModelFamily.DeepseekV3 => new MoeBlock(ps, c, i, $"{p}.mlp", "gate.weight", c.SharedExpertIntermediateSize > 0,
                        $"{p}.mlp.shared_experts", null),
                    ModelFamily.GraniteMoe => new MoeBlock(ps, c, i, $"{p}.block_sparse_moe", "router.layer.weight", false, "", null),
                    ModelFamily.GptOss => new MoeBlock(ps, c, i, $"{p}.mlp", "router.weight", false, "", null),
                    _ => new MoeBlock(ps, c, i, $"{p}.mlp", "gate.weight", false, "", null),
                };
                layers[i] = new Layer(inNorm, postNorm, attn, moe, null, null, null);
            }
            else
            {
                var g = ps.Declare($"{p}.mlp.gate_proj.weight", c.IntermediateSize, h);
                var u = ps.Declare($"{p}.mlp.up_proj.weight", c.IntermediateSize, h);
                var d = ps.Declare($"{p}.mlp.down_proj.weight", h, c.IntermediateSize);
                ps.Fuse(g, u); // gate and up as one matmul
                layers[i] = new Layer(inNorm, postNorm, attn, null, g, u, d);
            }
        }
        finalNorm = ps.Declare("model.norm.weight", h);
        lmHead = c.TieWordEmbeddings && !checkpoint.Contains("lm_head.weight") ? embed : ps.Declare("lm_head.weight", c.VocabSize, h);

        var moeLayers = Enumerable.Range(0, c.NumLayers).Where(i => c.MoeLayers[i]).ToArray();
        if (c.ExpertBiases && o.ExpertFormat.IsQuantized)
            throw new ArgumentException($"Expert format {o.ExpertFormat.Name} is not implemented for {c.ModelType} (experts with biases); load its experts as bf16.");
        Experts = new ExpertCatalog(moeLayers, c.NumExperts, gated: true, DType, c.Family == ModelFamily.GptOss ? (layer, e) =>
        {
            // stacked and interleaved in the checkpoint (or MXFP4): GptOssExpertWeights serves each expert with its biases folded in
            int extra = c.ExpertBiasColumns;
            return new ExpertIdentity(layer, e, [new ExpertTensor("gate_up", GptOssExpertWeights.Name(layer, e, "gate_up"), [2L * c.ExpertIntermediateSize, h + extra])],
                new ExpertTensor("down", GptOssExpertWeights.Name(layer, e, "down"), [h, c.ExpertIntermediateSize + extra]));
        } : c.Family == ModelFamily.GraniteMoe ? (layer, e) =>
        {
            // stacked per layer in the checkpoint: input_linear [E, 2I, H] holds gate then up rows, output_linear [E, H, I]
            string b = $"model.layers.{layer}.block_sparse_moe";
            return new ExpertIdentity(layer, e, [new ExpertTensor("gate_up", $"{b}.input_linear.weight", [2L * c.ExpertIntermediateSize, h], Row: e)],
                new ExpertTensor("down", $"{b}.output_linear.weight", [h, c.ExpertIntermediateSize], Row: e));
        } : (layer, e) =>
        {
            string b = $"model.layers.{layer}.{expertsPrefix}.experts.{e}";
            return new ExpertIdentity(layer, e,
                [new ExpertTensor("gate", $"{b}.{gateName}.weight", [c.ExpertIntermediateSize, h]),
                 new ExpertTensor("up", $"{b}.{upName}.weight", [c.ExpertIntermediateSize, h])],
                new ExpertTensor("down", $"{b}.{downName}.weight", [h, c.ExpertIntermediateSize]));
        }, checkpoint, o.ExpertFormat);
        // check every expert's tensors before anything is allocated
        foreach (int layer in moeLayers)
            for (int e = 0; e < c.NumExperts; e++)
            {
                var id = Experts.Identity(layer, e);
                foreach (var t in id.InputParts.Append(id.Output)) checkpoint.Check(t.Name, t.StoredShape(c.NumExperts));
            }

        ps.Materialise(checkpoint, Device, DType);
        foreach (var l in layers)
        {
            l.Attention.Prepare();
            l.Moe?.Prepare();
        }
        rope = new RopeTables(c.HeadDim, c.RopeTheta, c.Rope, c.MaxPositionEmbeddings, Device);
        ExpertProvider = o.Experts ?? new ResidentExpertProvider();
        ExpertProvider.Attach(Experts, Device);
        moeIndex = Enumerable.Range(0, c.NumLayers).Where(i => layers[i].Moe != null).ToArray();
        if (Device.type == TorchSharp.DeviceType.CUDA)
        {
            graphs = new DecodeGraphs(o.Log ?? NullLogger.Instance, maxCaches: 8); // a serving scheduler steps over 1, 2, 4, ... 64 rows
            segmented = new DecodeGraphs(o.Log ?? NullLogger.Instance, maxCaches: 2);
        }
        UseCudaGraphs = o.CudaGraphs;
    }

    /// <summary>Token embeddings (GraniteMoE: times embedding_multiplier).</summary>
    Tensor Embed(Tensor ids)
    {
        var e = embed.Value.index_select(0, ids);
        return Config.EmbeddingMultiplier == 1 ? e : Ops.Mul(e, Config.EmbeddingMultiplier);
    }

    /// <summary>fp32 logits of final hidden states [N, H]: final norm, lm_head (GraniteMoE: divided by logits_scaling).</summary>
    Tensor Head(Tensor hidden)
    {
        var logits = nn.functional.linear(Ops.RmsNorm(hidden, finalNorm.Value, Config.NormEps), lmHead.Value);
        if (Config.LogitsScaling != 1) logits = logits / Config.LogitsScaling;
        return logits.to(ScalarType.Float32);
    }

    /// <summary>Forgets the captured decode graphs (the next eligible step captures anew), e.g. after switching kernels.</summary>
    public void DropCudaGraphs()
    {
        graphs?.Clear();
        segmented?.Clear();
    }

    /// <summary>
    /// CUDA graph use so far: captures, replayed steps, and why graphs were switched off (null while on or unused). Counts
    /// both whole-step graphs (resident experts) and segmented ones (offloaded experts, one capture per KV cache).
    /// </summary>
    public override DecodeGraphStats GraphStats => graphs == null || segmented == null ? DecodeGraphStats.None("not on CUDA")
        : new(graphs.Captures + segmented.Captures, graphs.Replays + segmented.Replays, graphs.DisabledBecause ?? segmented.DisabledBecause);

    /// <summary>Latent attention caches kv_lora_rank + qk_rope_head_dim numbers per position and layer; others keys and values per kv head.</summary>
    public override long KvCacheBytes(Workload workload) => Config.LatentAttention
        ? (long)Config.NumLayers * workload.Rows * workload.Capacity * (Config.KvLoraRank + Config.HeadDim) * ExpertCatalog.DTypeSize(DType)
        : CacheBytesFor(Config.NumLayers, Config.NumKvHeads, Config.HeadDim, workload);

    public override int[][] BeginSequences(IReadOnlyList<int[]> prompts, int[]? sequenceIds = null) => prompts.Select(p => p.ToArray()).ToArray();

    static (string Prefix, string Gate, string Up, string Down) ExpertNames(ModelFamily f) =>
        f == ModelFamily.Mixtral ? ("block_sparse_moe", "w1", "w3", "w2") : ("mlp", "gate_proj", "up_proj", "down_proj");

    public static MoeCausalLM Load(string folder, MoeConfig? config = null, ModelLoadOptions? options = null)
    {
        config ??= MoeConfig.Load(folder);
        if (config.IsEncoderDecoder) throw new ArgumentException($"{folder} holds an encoder-decoder model ({config.ModelType}); load it with SwitchModel.");
        return Create(config, PrequantizedWeights.Wrap(folder, new CheckpointWeights(SafetensorsCheckpoint.Open(folder))), options);
    }

    /// <summary>Builds the model from any weight source (the model owns and disposes it).</summary>
    public static MoeCausalLM Create(MoeConfig config, IWeightSource weights, ModelLoadOptions? options = null)
    {
        options ??= new ModelLoadOptions();
        try
        {
            MoeModels.CheckDType(options.DType);
            if (config.Family == ModelFamily.GptOss && weights is not (GptOssExpertWeights or RandomWeights)) weights = new GptOssExpertWeights(weights, config);
            using var _ = no_grad();
            var model = new MoeCausalLM(weights, config, options);
            (options.Log ?? NullLogger.Instance).LogInformation("Loaded {Type} from {Source}: {Layers} layers, {Experts} experts top-{K}, {DType} on {Device}",
                config.ModelType, weights.Description, config.NumLayers, config.NumExperts, config.TopK, options.DType, model.Device);
            return model;
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }

    public override void ResetCache(int rows, int capacity)
    {
        if (capacity > Config.MaxPositionEmbeddings && !rope.LengthDependent) // dynamic NTK extends the context
            throw new ArgumentException($"A cache of {capacity} positions exceeds the model's max_position_embeddings ({Config.MaxPositionEmbeddings}); use a shorter prompt or fewer new tokens.");
        if (rope.EnsureCovers(capacity)) DropCudaGraphs(); // captured steps read the old tables
        if (cache != null && cache.Rows == rows && cache.Capacity >= capacity) { cache.Clear(); return; }
        cache?.Dispose();
        cache = Config.LatentAttention
            ? new KvCache(Config.NumLayers, rows, 1, capacity, Config.KvLoraRank, DType, Device, valueDim: Config.HeadDim)
            : new KvCache(Config.NumLayers, rows, Config.NumKvHeads, capacity, Config.HeadDim, DType, Device);
    }

    public override Tensor Step(int[][] tokens, bool allPositions = false, int[]? sequenceIds = null)
    {
        if (cache == null) throw new InvalidOperationException("Call ResetCache before Step.");
        if (tokens.Length != cache.Rows) throw new ArgumentException($"Step got {tokens.Length} rows; the cache holds {cache.Rows}.");
        int rows = tokens.Length;
        int width = Math.Max(1, tokens.Max(t => t.Length));
        var starts = (int[])cache.Lengths.Clone();
        for (int r = 0; r < rows; r++)
            if (starts[r] + tokens[r].Length > cache.Capacity)
                throw new ArgumentException(
                    $"Sequence {sequenceIds?[r] ?? r} needs {starts[r] + tokens[r].Length} positions, but the KV cache holds {cache.Capacity} " +
                    $"(max_position_embeddings {Config.MaxPositionEmbeddings}). Shorten the prompt or generate fewer new tokens.");
        foreach (var row in tokens)
            foreach (int id in row)
                if (id < 0 || id >= Config.VocabSize) throw new ArgumentException($"Token id {id} is outside the vocabulary (0..{Config.VocabSize - 1}).");

        if (rope.EnsureCovers(cache.Capacity)) DropCudaGraphs(); // a cache set through Cache may be longer than any reset
        return TryWholeGraphStep(tokens, starts, allPositions)
            ?? TrySegmentedStep(tokens, starts, allPositions, sequenceIds)
            ?? EagerStep(tokens, starts, allPositions, sequenceIds, width);
    }

    private protected override void ReleaseTensors()
    {
        graphs?.Dispose();
        segmented?.Dispose();
        foreach (var l in layers)
        {
            l.Attention.Release();
            l.Moe?.Release();
        }
        rope.Dispose();
    }
}
