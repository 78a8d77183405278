using System.Text.Json;

namespace ExpertFlow.Model;

/// <summary>
/// A MoE model's configuration, read from a Hugging Face <c>config.json</c> and normalised across families.
/// Decoder-only fields describe the Switch decoder too (with its own fields below).
/// </summary>
public sealed record MoeConfig
{
    public required ModelFamily Family { get; init; }
    public required string ModelType { get; init; }
    public required int VocabSize { get; init; }
    public required int HiddenSize { get; init; }
    /// <summary>Decoder-only: layers. Switch: encoder blocks.</summary>
    public required int NumLayers { get; init; }
    public required int NumHeads { get; init; }
    public required int NumKvHeads { get; init; }
    public required int HeadDim { get; init; }
    /// <summary>Hidden size of the dense MLP of non-MoE layers (Switch: d_ff, also the size of each expert).</summary>
    public required int IntermediateSize { get; init; }
    /// <summary>Hidden size of one routed expert.</summary>
    public required int ExpertIntermediateSize { get; init; }
    public required int NumExperts { get; init; }
    public required int TopK { get; init; }
    /// <summary>Renormalise the top-k probabilities to sum to one (Mixtral: always).</summary>
    public required bool NormTopKProb { get; init; }
    /// <summary>Hidden size of the shared expert(s) (0: none). DeepSeek: moe_intermediate_size * n_shared_experts.</summary>
    public int SharedExpertIntermediateSize { get; init; }
    /// <summary>Qwen2-MoE: the shared expert's output is scaled by sigmoid(shared_expert_gate(x)).</summary>
    public bool SharedExpertGate { get; init; }
    /// <summary>Per layer: true when the layer's feed-forward is a MoE block.</summary>
    public required bool[] MoeLayers { get; init; }
    public double RopeTheta { get; init; } = 10000;
    /// <summary>RoPE scaling (rope_scaling / rope_parameters): linear, dynamic, yarn or llama3; <see cref="RopeScaling.None"/> for plain RoPE.</summary>
    public RopeScaling Rope { get; init; } = RopeScaling.None;
    public double NormEps { get; init; } = 1e-6;
    public int MaxPositionEmbeddings { get; init; } = 4096;
    public QkNormKind QkNorm { get; init; }
    public double? ClipQkv { get; init; }
    public bool AttentionBias { get; init; }
    public bool TieWordEmbeddings { get; init; }
    public string HiddenAct { get; init; } = "silu";
    public int[] EosTokenIds { get; init; } = [];
    public int? BosTokenId { get; init; }
    public int? PadTokenId { get; init; }

    // GraniteMoE: hidden = embed * EmbeddingMultiplier; attention softmax scale AttentionMultiplier (null: 1/sqrt(head_dim));
    // each sub-layer's output is scaled by ResidualMultiplier before the residual sum; logits are divided by LogitsScaling
    public double EmbeddingMultiplier { get; init; } = 1;
    public double? AttentionMultiplier { get; init; }
    public double ResidualMultiplier { get; init; } = 1;
    public double LogitsScaling { get; init; } = 1;

    // DeepSeek-V2/V3: multi-head latent attention (KvLoraRank > 0; HeadDim is then qk_rope_head_dim) and grouped routing
    /// <summary>q_lora_rank (0: q_proj straight from the hidden state).</summary>
    public int QLoraRank { get; init; }
    /// <summary>kv_lora_rank: width of the compressed keys/values the cache holds (0: not latent attention).</summary>
    public int KvLoraRank { get; init; }
    public int QkNopeHeadDim { get; init; }
    public int VHeadDim { get; init; }
    /// <summary>The rotary half of q/k comes as interleaved pairs (DeepSeek-V2 always; V3 with rope_interleave).</summary>
    public bool RopeInterleave { get; init; }
    /// <summary>Softmax scale of latent attention: qk_head_dim^-0.5, times YaRN's mscale(factor, mscale_all_dim)^2 for V3.</summary>
    public double LatentSoftmaxScale { get; init; }
    public double RoutedScalingFactor { get; init; } = 1;
    public int NumGroups { get; init; } = 1;
    public int TopKGroups { get; init; } = 1;
    /// <summary>DeepSeek-V2 group_limited_greedy / V3: experts only from the top groups.</summary>
    public bool GroupLimited { get; init; }
    public bool LatentAttention => KvLoraRank > 0;

    // gpt-oss: sliding-window layers, attention sinks, biased router and experts, clamped SwiGLU, MXFP4 experts
    /// <summary>Per layer: true when the layer attends only to the last <see cref="SlidingWindow"/> positions (empty: no such layer).</summary>
    public bool[] SlidingLayers { get; init; } = [];
    /// <summary>sliding_window: a sliding layer's query at position p sees keys at p - window + 1 .. p (transformers' rule).</summary>
    public int SlidingWindow { get; init; }
    /// <summary>Each attention head has a learned logit (<c>self_attn.sinks</c>) that joins its softmax and takes no value.</summary>
    public bool AttentionSinks { get; init; }
    /// <summary>The router has a bias (<c>router.bias</c>).</summary>
    public bool RouterBias { get; init; }
    /// <summary>Routed experts have biases on both projections (folded into the expert matrices, see <see cref="ExpertBiasColumns"/>).</summary>
    public bool ExpertBiases { get; init; }
    /// <summary>
    /// Extra columns of an expert's input [2I, H + c] and output [H, I + c] matrices when it has biases: column 0 of them
    /// holds the bias and the others are zero (c = 8 keeps the widths multiples of 8 for the grouped GEMM); the
    /// activations are extended with a 1 and zeros to match. 0 without biases.
    /// </summary>
    public int ExpertBiasColumns => ExpertBiases ? 8 : 0;
    /// <summary>Clamped SwiGLU (gpt-oss): gate ≤ limit, -limit ≤ up ≤ limit, out = (up + 1) · gate · σ(alpha · gate); null: act(gate) · up.</summary>
    public double? SwigluLimit { get; init; }
    public double SwigluAlpha { get; init; } = 1.702;
    /// <summary>The routed experts are stored in MXFP4 (quantization_config.quant_method "mxfp4"); they are dequantized at load.</summary>
    public bool Mxfp4Experts { get; init; }

    // Switch Transformers only
    public int NumDecoderLayers { get; init; }
    public bool[] DecoderMoeLayers { get; init; } = [];
    public int RelativeAttentionNumBuckets { get; init; } = 32;
    public int RelativeAttentionMaxDistance { get; init; } = 128;
    public int ExpertCapacity { get; init; }
    public int DecoderStartTokenId { get; init; }

    public bool IsEncoderDecoder => Family == ModelFamily.SwitchTransformers;

    /// <summary>Experts are gated (act(gate x) * up x, then down) for every family but Switch (act(wi x), then wo).</summary>
    public bool GatedExperts => Family != ModelFamily.SwitchTransformers;

    /// <summary>Number of MoE layers (Switch: encoder and decoder together).</summary>
    public int MoeLayerCount => MoeLayers.Count(m => m) + DecoderMoeLayers.Count(m => m);

    /// <summary>
    /// The shape of Qwen1.5-MoE-A2.7B (qwen2_moe: 24 layers, hidden 2048, 60 experts of 1408 top-4, shared expert 5632,
    /// vocab 151936, 14.3B parameters), for benchmarks with random weights. <paramref name="layers"/> shrinks the depth.
    /// </summary>
    public static MoeConfig Qwen15MoeA27B(int layers = 24) => new()
    {
        Family = ModelFamily.Qwen2Moe, ModelType = "qwen2_moe", VocabSize = 151936, HiddenSize = 2048, NumLayers = layers,
        NumHeads = 16, NumKvHeads = 16, HeadDim = 128, IntermediateSize = 5632, ExpertIntermediateSize = 1408, NumExperts = 60,
        TopK = 4, NormTopKProb = false, SharedExpertIntermediateSize = 5632, SharedExpertGate = true,
        MoeLayers = Enumerable.Repeat(true, layers).ToArray(), RopeTheta = 1000000, NormEps = 1e-6, MaxPositionEmbeddings = 8192,
        AttentionBias = true, EosTokenIds = [151643],
    };

    /// <summary>
    /// Reads <c>config.json</c> from a model folder (or the file itself). A missing file is a FileNotFoundException; a file
    /// that is not JSON, not an object, lacks a field or describes no buildable model is an InvalidDataException naming it.
    /// </summary>
    public static MoeConfig Load(string folderOrFile)
    {
        string path = Directory.Exists(folderOrFile) ? Path.Combine(folderOrFile, "config.json") : folderOrFile;
        if (!File.Exists(path))
            throw new FileNotFoundException($"No config.json at '{path}': give a Hugging Face model folder (config.json + *.safetensors).", path);
        byte[] bytes = File.ReadAllBytes(path);
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
            throw new InvalidDataException($"{path} is not UTF-8 text (damaged file); restore the model's config.json (e.g. download it again).");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}); " +
                "restore the model's config.json (e.g. download it again).", e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{path} holds a JSON {doc.RootElement.ValueKind.ToString().ToLowerInvariant()}, not an object of model settings; restore the model's config.json.");
            return Parse(doc.RootElement, path);
        }
    }

    /// <summary>Largest layer count accepted (real models have at most a few hundred); a larger one is a damaged file.</summary>
    public const int MaxLayers = 4096;
    /// <summary>Largest vocabulary accepted (real models: up to about 260,000 tokens).</summary>
    public const int MaxVocabulary = 1 << 24;
    /// <summary>Largest hidden, intermediate or head size accepted.</summary>
    public const int MaxWidth = 1 << 20;
    /// <summary>Largest number of attention heads (or shared experts) accepted.</summary>
    public const int MaxCount = 65535;
    /// <summary>Largest number of experts per layer accepted (expert ids are 16-bit signed values in routing and traces).</summary>
    public const int MaxExperts = short.MaxValue + 1;

    /// <summary>Parses a config.json document; <paramref name="source"/> names it in errors.</summary>
    public static MoeConfig Parse(JsonElement json, string source = "config.json")
    {
        if (json.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{source} holds a JSON {json.ValueKind.ToString().ToLowerInvariant()}, not an object of model settings.");
        var r = new ConfigReader(json, source);
        string type = r.String("model_type") ?? throw r.Error($"has no 'model_type' (mixtral, qwen2_moe, qwen3_moe, olmoe, deepseek, deepseek_v2, deepseek_v3, granitemoe, gpt_oss or switch_transformers).{ConfigReader.Fix}");
        var config = type switch
        {
            "mixtral" => ReadMixtral(r, type),
            "qwen2_moe" => ReadQwen(r, type, ModelFamily.Qwen2Moe),
            "qwen3_moe" => ReadQwen(r, type, ModelFamily.Qwen3Moe),
            "olmoe" => ReadOlmoe(r, type),
            "deepseek" => ReadDeepseek(r, type),
            "granitemoe" => ReadGranite(r, type),
            "deepseek_v2" => ReadDeepseekLatent(r, type, ModelFamily.DeepseekV2),
            "deepseek_v3" => ReadDeepseekLatent(r, type, ModelFamily.DeepseekV3),
            "switch_transformers" => ReadSwitch(r, type),
            "gpt_oss" => ReadGptOss(r, type),
            _ => throw r.Error($"has model_type '{type}', which this runtime does not implement. Supported: mixtral, qwen2_moe, qwen3_moe, olmoe, deepseek (DeepSeek-MoE v1), deepseek_v2, deepseek_v3, granitemoe, gpt_oss, switch_transformers."),
        };
        if (config.Family != ModelFamily.GptOss && r.NestedString("quantization_config", "quant_method") is "mxfp4")
            throw r.Error($"has quantization_config.quant_method 'mxfp4' with model_type '{type}'; MXFP4 checkpoints are read for gpt_oss only.");
        config.Validate(source);
        return config;
    }

    static (int vocab, int hidden, int layers, int heads, int kv, int headDim) Common(ConfigReader r)
    {
        int hidden = r.Int("hidden_size");
        int heads = r.Int("num_attention_heads");
        int kv = r.IntOr("num_key_value_heads", heads);
        int headDim = r.IntOrNull("head_dim") ?? PerHead(hidden, heads);
        return (r.Int("vocab_size"), hidden, Layers(r, "num_hidden_layers"), heads, kv, headDim);
    }

    /// <summary>hidden / heads (0 when there are no heads: Validate names the field).</summary>
    static int PerHead(int hidden, int heads) => heads > 0 ? hidden / heads : 0;

    /// <summary>A layer count, checked before per-layer arrays are made from it.</summary>
    static int Layers(ConfigReader r, string key, int? fallback = null)
    {
        int layers = fallback is int f ? r.IntOr(key, f) : r.Int(key);
        if (layers is < 1 or > MaxLayers) throw r.Error($"has '{key}': {layers}; it must be between 1 and {MaxLayers}.{ConfigReader.Fix}");
        return layers;
    }

    static MoeConfig ReadMixtral(ConfigReader r, string type)
    {
        var (vocab, hidden, layers, heads, kv, headDim) = Common(r);
        return new MoeConfig
        {
            Family = ModelFamily.Mixtral, ModelType = type, VocabSize = vocab, HiddenSize = hidden, NumLayers = layers,
            NumHeads = heads, NumKvHeads = kv, HeadDim = headDim,
            IntermediateSize = r.Int("intermediate_size"), ExpertIntermediateSize = r.Int("intermediate_size"),
            NumExperts = r.Int("num_local_experts"), TopK = r.Int("num_experts_per_tok"), NormTopKProb = true,
            MoeLayers = Enumerable.Repeat(true, layers).ToArray(),
            RopeTheta = r.RopeTheta(1e6), Rope = r.RopeScaling(), NormEps = r.DoubleOr("rms_norm_eps", 1e-5),
            MaxPositionEmbeddings = r.IntOr("max_position_embeddings", 32768), TieWordEmbeddings = r.BoolOr("tie_word_embeddings", false),
            HiddenAct = r.String("hidden_act") ?? "silu", EosTokenIds = r.IntList("eos_token_id"), BosTokenId = r.IntOrNull("bos_token_id"),
            PadTokenId = r.IntOrNull("pad_token_id"),
        };
    }

    static MoeConfig ReadQwen(ConfigReader r, string type, ModelFamily family)
    {
        var (vocab, hidden, layers, heads, kv, headDim) = Common(r);
        int step = r.IntOr("decoder_sparse_step", 1);
        int experts = r.IntOrNull("num_experts") ?? r.Int("num_local_experts"); // transformers 5 may save the alias
        var mlpOnly = r.IntList("mlp_only_layers").ToHashSet();
        if (step <= 0) throw r.Error($"has decoder_sparse_step {step}; it must be at least 1.");
        var moe = Enumerable.Range(0, layers).Select(i => !mlpOnly.Contains(i) && experts > 0 && (i + 1) % step == 0).ToArray();
        bool qwen2 = family == ModelFamily.Qwen2Moe;
        return new MoeConfig
        {
            Family = family, ModelType = type, VocabSize = vocab, HiddenSize = hidden, NumLayers = layers,
            NumHeads = heads, NumKvHeads = kv, HeadDim = headDim,
            IntermediateSize = r.Int("intermediate_size"), ExpertIntermediateSize = r.Int("moe_intermediate_size"),
            NumExperts = experts, TopK = r.Int("num_experts_per_tok"), NormTopKProb = r.BoolOr("norm_topk_prob", false),
            SharedExpertIntermediateSize = qwen2 ? r.IntOr("shared_expert_intermediate_size", 0) : 0,
            SharedExpertGate = qwen2 && r.IntOr("shared_expert_intermediate_size", 0) > 0,
            MoeLayers = moe, RopeTheta = r.RopeTheta(10000), Rope = r.RopeScaling(), NormEps = r.DoubleOr("rms_norm_eps", 1e-6),
            MaxPositionEmbeddings = r.IntOr("max_position_embeddings", 32768),
            QkNorm = qwen2 ? QkNormKind.None : QkNormKind.PerHead,
            AttentionBias = qwen2 ? r.BoolOr("qkv_bias", true) : r.BoolOr("attention_bias", false),
            TieWordEmbeddings = r.BoolOr("tie_word_embeddings", false), HiddenAct = r.String("hidden_act") ?? "silu",
            EosTokenIds = r.IntList("eos_token_id"), BosTokenId = r.IntOrNull("bos_token_id"), PadTokenId = r.IntOrNull("pad_token_id"),
        };
    }

    static MoeConfig ReadOlmoe(ConfigReader r, string type)
    {
        var (vocab, hidden, layers, heads, kv, headDim) = Common(r);
        return new MoeConfig
        {
            Family = ModelFamily.Olmoe, ModelType = type, VocabSize = vocab, HiddenSize = hidden, NumLayers = layers,
            NumHeads = heads, NumKvHeads = kv, HeadDim = PerHead(hidden, heads),
            IntermediateSize = r.Int("intermediate_size"), ExpertIntermediateSize = r.Int("intermediate_size"),
            NumExperts = r.IntOrNull("num_experts") ?? r.Int("num_local_experts"), TopK = r.Int("num_experts_per_tok"), NormTopKProb = r.BoolOr("norm_topk_prob", false),
            MoeLayers = Enumerable.Repeat(true, layers).ToArray(), RopeTheta = r.RopeTheta(10000), Rope = r.RopeScaling(),
            NormEps = r.DoubleOr("rms_norm_eps", 1e-5), MaxPositionEmbeddings = r.IntOr("max_position_embeddings", 4096),
            QkNorm = QkNormKind.Full, ClipQkv = r.DoubleOrNull("clip_qkv"), AttentionBias = r.BoolOr("attention_bias", false),
            TieWordEmbeddings = r.BoolOr("tie_word_embeddings", false), HiddenAct = r.String("hidden_act") ?? "silu",
            EosTokenIds = r.IntList("eos_token_id"), BosTokenId = r.IntOrNull("bos_token_id"), PadTokenId = r.IntOrNull("pad_token_id"),
        };
    }

    static MoeConfig ReadDeepseekLatent(ConfigReader r, string type, ModelFamily family)
    {
        bool v3 = family == ModelFamily.DeepseekV3;
        int hidden = r.Int("hidden_size"), heads = r.Int("num_attention_heads"), layers = Layers(r, "num_hidden_layers");
        int qLora = r.IntOrNull("q_lora_rank") ?? 0, kvLora = r.Int("kv_lora_rank");
        int nope = r.Int("qk_nope_head_dim"), ropeDim = r.Int("qk_rope_head_dim"), vDim = r.Int("v_head_dim");
        foreach (var (key, value) in new[] { ("q_lora_rank", qLora), ("kv_lora_rank", kvLora - 1), ("qk_nope_head_dim", nope - 1), ("qk_rope_head_dim", ropeDim - 1), ("v_head_dim", vDim - 1) })
            if (value < 0 || value >= MaxWidth) throw r.Error($"has '{key}' out of range; it must be between 1 and {MaxWidth}.{ConfigReader.Fix}");
        string scoring = r.String("scoring_func") ?? (v3 ? "sigmoid" : "softmax");
        if (scoring != (v3 ? "sigmoid" : "softmax"))
            throw r.Error($"has scoring_func '{scoring}'; {type} is implemented with '{(v3 ? "sigmoid" : "softmax")}' scores, as transformers.");
        string method = r.String("topk_method") ?? (v3 ? "noaux_tc" : "greedy");
        if (!(v3 ? method == "noaux_tc" : method is "greedy" or "group_limited_greedy"))
            throw r.Error($"has topk_method '{method}'; {type} implements {(v3 ? "'noaux_tc'" : "'greedy' and 'group_limited_greedy'")}.");
        int? routed = r.IntOrNull("n_routed_experts");
        int firstDense = r.IntOr("first_k_dense_replace", 0);
        int freq = r.IntOr("moe_layer_freq", 1);
        if (freq <= 0) throw r.Error($"has moe_layer_freq {freq}; it must be at least 1.");
        int moeInter = r.Int("moe_intermediate_size");
        int shared = r.IntOr("n_shared_experts", 0);
        if (shared is < 0 or > MaxCount) throw r.Error($"has 'n_shared_experts': {shared}; it must be between 0 and {MaxCount}.{ConfigReader.Fix}");
        var rope = r.RopeScaling();
        double scale = 1 / Math.Sqrt(nope + ropeDim);
        if (v3 && rope.Kind == RopeKind.Yarn && rope.MscaleAllDim is double mad && mad != 0)
        {
            double m = RopeScaling.YarnMscale(rope.Factor, mad);
            scale *= m * m;
        }
        return new MoeConfig
        {
            Family = family, ModelType = type, VocabSize = r.Int("vocab_size"), HiddenSize = hidden, NumLayers = layers,
            NumHeads = heads, NumKvHeads = heads, HeadDim = ropeDim,
            QLoraRank = qLora, KvLoraRank = kvLora, QkNopeHeadDim = nope, VHeadDim = vDim, LatentSoftmaxScale = scale,
            RopeInterleave = !v3 || r.BoolOr("rope_interleave", true),
            IntermediateSize = r.Int("intermediate_size"), ExpertIntermediateSize = moeInter,
            NumExperts = routed ?? 0, TopK = r.Int("num_experts_per_tok"), NormTopKProb = r.BoolOr("norm_topk_prob", v3),
            SharedExpertIntermediateSize = (int)Math.Clamp((long)moeInter * shared, int.MinValue, int.MaxValue),
            MoeLayers = Enumerable.Range(0, layers).Select(i => routed != null && i >= firstDense && i % freq == 0).ToArray(),
            RoutedScalingFactor = r.DoubleOr("routed_scaling_factor", v3 ? 2.5 : 1.0),
            NumGroups = r.IntOrNull("n_group") ?? (v3 ? 8 : 1), TopKGroups = r.IntOrNull("topk_group") ?? (v3 ? 4 : 1),
            GroupLimited = v3 || method == "group_limited_greedy",
            RopeTheta = r.RopeTheta(10000), Rope = rope, NormEps = r.DoubleOr("rms_norm_eps", 1e-6),
            MaxPositionEmbeddings = r.IntOr("max_position_embeddings", 4096), AttentionBias = r.BoolOr("attention_bias", false),
            TieWordEmbeddings = r.BoolOr("tie_word_embeddings", false), HiddenAct = r.String("hidden_act") ?? "silu",
            EosTokenIds = r.IntList("eos_token_id"), BosTokenId = r.IntOrNull("bos_token_id"), PadTokenId = r.IntOrNull("pad_token_id"),
        };
    }

    static MoeConfig ReadGptOss(ConfigReader r, string type)
    {
        var (vocab, hidden, layers, heads, kv, headDim) = Common(r);
        int inter = r.Int("intermediate_size");
        string[] kinds = r.StringList("layer_types")
            ?? Enumerable.Range(0, layers).Select(i => i % 2 == 0 ? "sliding_attention" : "full_attention").ToArray(); // transformers' default
        if (kinds.Length != layers)
            throw r.Error($"has 'layer_types' with {kinds.Length} entries for {layers} layers (num_hidden_layers); they must match.{ConfigReader.Fix}");
        foreach (string k in kinds)
            if (k is not ("sliding_attention" or "full_attention"))
                throw r.Error($"has 'layer_types' entry '{k}', which this runtime does not implement for gpt_oss (sliding_attention, full_attention).");
        var sliding = kinds.Select(k => k == "sliding_attention").ToArray();
        int window = r.IntOrNull("sliding_window") ?? 0;
        if (sliding.Any(x => x) && window < 1)
            throw r.Error($"has sliding_attention layers but 'sliding_window' is {(r.IntOrNull("sliding_window") is int w ? w.ToString() : "absent")}; it must be a positive number of positions.{ConfigReader.Fix}");
        string? quant = r.NestedString("quantization_config", "quant_method");
        if (quant is not (null or "mxfp4"))
            throw r.Error($"has quantization_config.quant_method '{quant}'; gpt_oss checkpoints are read with full-precision or MXFP4 ('mxfp4') experts.");
        string act = r.String("hidden_act") ?? "silu";
        if (act != "silu") // the experts' clamped SwiGLU is fixed by the architecture; transformers ignores the field
            throw r.Error($"has hidden_act '{act}'; gpt_oss experts use the clamped SwiGLU (hidden_act 'silu').");
        double limit = r.DoubleOr("swiglu_limit", 7.0), alpha = r.DoubleOr("swiglu_alpha", 1.702);
        if (!(limit > 0)) throw r.Error($"has swiglu_limit {limit}; it must be positive.{ConfigReader.Fix}");
        return new MoeConfig
        {
            Family = ModelFamily.GptOss, ModelType = type, VocabSize = vocab, HiddenSize = hidden, NumLayers = layers,
            NumHeads = heads, NumKvHeads = kv, HeadDim = headDim,
            IntermediateSize = inter, ExpertIntermediateSize = inter,
            NumExperts = r.IntOrNull("num_local_experts") ?? r.Int("num_experts"), TopK = r.Int("num_experts_per_tok"), NormTopKProb = true,
            MoeLayers = Enumerable.Repeat(true, layers).ToArray(),
            SlidingLayers = sliding, SlidingWindow = window, AttentionSinks = true, RouterBias = true, ExpertBiases = true,
            SwigluLimit = limit, SwigluAlpha = alpha, Mxfp4Experts = quant == "mxfp4",
            RopeTheta = r.RopeTheta(150000), Rope = r.RopeScaling(), NormEps = r.DoubleOr("rms_norm_eps", 1e-5),
            MaxPositionEmbeddings = r.IntOr("max_position_embeddings", 131072), AttentionBias = r.BoolOr("attention_bias", true),
            TieWordEmbeddings = r.BoolOr("tie_word_embeddings", false), HiddenAct = act,
            EosTokenIds = r.IntList("eos_token_id"), BosTokenId = r.IntOrNull("bos_token_id"), PadTokenId = r.IntOrNull("pad_token_id"),
        };
    }

    static MoeConfig ReadGranite(ConfigReader r, string type)
    {
        var (vocab, hidden, layers, heads, kv, headDim) = Common(r);
        int inter = r.Int("intermediate_size");
        return new MoeConfig
        {
            Family = ModelFamily.GraniteMoe, ModelType = type, VocabSize = vocab, HiddenSize = hidden, NumLayers = layers,
            NumHeads = heads, NumKvHeads = kv, HeadDim = PerHead(hidden, heads),
            IntermediateSize = inter, ExpertIntermediateSize = inter,
            NumExperts = r.IntOrNull("num_local_experts") ?? r.Int("num_experts"), TopK = r.Int("num_experts_per_tok"), NormTopKProb = true,
            MoeLayers = Enumerable.Repeat(true, layers).ToArray(), RopeTheta = r.RopeTheta(10000), Rope = r.RopeScaling(),
            NormEps = r.DoubleOr("rms_norm_eps", 1e-6), MaxPositionEmbeddings = r.IntOr("max_position_embeddings", 4096),
            AttentionBias = r.BoolOr("attention_bias", false), TieWordEmbeddings = r.BoolOr("tie_word_embeddings", false),
            HiddenAct = r.String("hidden_act") ?? "silu", EmbeddingMultiplier = r.DoubleOr("embedding_multiplier", 1),
            AttentionMultiplier = r.DoubleOr("attention_multiplier", 1), ResidualMultiplier = r.DoubleOr("residual_multiplier", 1),
            LogitsScaling = r.DoubleOr("logits_scaling", 1),
            EosTokenIds = r.IntList("eos_token_id"), BosTokenId = r.IntOrNull("bos_token_id"), PadTokenId = r.IntOrNull("pad_token_id"),
        };
    }

    static MoeConfig ReadDeepseek(ConfigReader r, string type)
    {
        var (vocab, hidden, layers, heads, kv, headDim) = Common(r);
        int? routed = r.IntOrNull("n_routed_experts");
        int firstDense = r.IntOr("first_k_dense_replace", 0);
        int freq = r.IntOr("moe_layer_freq", 1);
        if (freq <= 0) throw r.Error($"has moe_layer_freq {freq}; it must be at least 1.");
        string scoring = r.String("scoring_func") ?? "softmax";
        if (scoring != "softmax") throw r.Error($"has scoring_func '{scoring}'; DeepSeek-MoE v1 uses 'softmax', the only one implemented.");
        int moeInter = r.Int("moe_intermediate_size");
        int shared = r.IntOr("n_shared_experts", 0);
        if (shared is < 0 or > MaxCount) throw r.Error($"has 'n_shared_experts': {shared}; it must be between 0 and {MaxCount}.{ConfigReader.Fix}");
        return new MoeConfig
        {
            Family = ModelFamily.Deepseek, ModelType = type, VocabSize = vocab, HiddenSize = hidden, NumLayers = layers,
            NumHeads = heads, NumKvHeads = kv, HeadDim = PerHead(hidden, heads),
            IntermediateSize = r.Int("intermediate_size"), ExpertIntermediateSize = moeInter,
            NumExperts = routed ?? 0, TopK = r.Int("num_experts_per_tok"), NormTopKProb = r.BoolOr("norm_topk_prob", false),
            SharedExpertIntermediateSize = (int)Math.Clamp((long)moeInter * shared, int.MinValue, int.MaxValue),
            MoeLayers = Enumerable.Range(0, layers).Select(i => routed != null && i >= firstDense && i % freq == 0).ToArray(),
            RopeTheta = r.RopeTheta(10000), Rope = r.RopeScaling(), NormEps = r.DoubleOr("rms_norm_eps", 1e-6),
            MaxPositionEmbeddings = r.IntOr("max_position_embeddings", 4096), AttentionBias = r.BoolOr("attention_bias", false),
            TieWordEmbeddings = r.BoolOr("tie_word_embeddings", false), HiddenAct = r.String("hidden_act") ?? "silu",
            EosTokenIds = r.IntList("eos_token_id"), BosTokenId = r.IntOrNull("bos_token_id"), PadTokenId = r.IntOrNull("pad_token_id"),
        };
    }

    static MoeConfig ReadSwitch(ConfigReader r, string type)
    {
        int layers = Layers(r, "num_layers");
        int decoderLayers = Layers(r, "num_decoder_layers", layers);
        int encStep = r.IntOr("encoder_sparse_step", 1), decStep = r.IntOr("decoder_sparse_step", 1);
        // transformers: block i is sparse when i % step == 1 or step == 1 (step <= 0: no sparse block)
        static bool[] Sparse(int n, int step) => Enumerable.Range(0, n).Select(i => step > 0 && (i % step == 1 || step == 1)).ToArray();
        int heads = r.Int("num_heads");
        string act = r.String("dense_act_fn") ?? "relu";
        string routerDtype = r.String("router_dtype") ?? "float32";
        if (routerDtype != "float32") throw r.Error($"has router_dtype '{routerDtype}'; only float32 is implemented.");
        if (r.BoolOr("router_bias", false)) throw r.Error("has router_bias true; the router classifier is implemented without bias.");
        int dff = r.Int("d_ff");
        return new MoeConfig
        {
            Family = ModelFamily.SwitchTransformers, ModelType = type, VocabSize = r.Int("vocab_size"), HiddenSize = r.Int("d_model"),
            NumLayers = layers, NumDecoderLayers = decoderLayers, NumHeads = heads, NumKvHeads = heads, HeadDim = r.Int("d_kv"),
            IntermediateSize = dff, ExpertIntermediateSize = dff, NumExperts = r.Int("num_experts"), TopK = 1, NormTopKProb = false,
            MoeLayers = Sparse(layers, encStep), DecoderMoeLayers = Sparse(decoderLayers, decStep),
            RelativeAttentionNumBuckets = r.IntOr("relative_attention_num_buckets", 32),
            RelativeAttentionMaxDistance = r.IntOr("relative_attention_max_distance", 128),
            ExpertCapacity = r.IntOr("expert_capacity", 64), NormEps = r.DoubleOr("layer_norm_epsilon", 1e-6),
            TieWordEmbeddings = r.BoolOr("tie_word_embeddings", true), HiddenAct = act, MaxPositionEmbeddings = int.MaxValue,
            EosTokenIds = r.IntList("eos_token_id"), PadTokenId = r.IntOrNull("pad_token_id"),
            DecoderStartTokenId = r.IntOr("decoder_start_token_id", r.IntOr("pad_token_id", 0)),
        };
    }

    /// <summary>Rejects configurations that cannot describe a working model, naming the field and the limit.</summary>
    void Validate(string source)
    {
        void Require(bool ok, string what)
        {
            if (!ok) throw new InvalidDataException($"{source} is inconsistent: {what}{ConfigReader.Fix}");
        }
        static bool Within(int value, int max) => value >= 1 && value <= max;
        Require(Within(VocabSize, MaxVocabulary), $"vocab_size ({VocabSize}) must be between 1 and {MaxVocabulary}.");
        Require(Within(HiddenSize, MaxWidth), $"the hidden size ({HiddenSize}) must be between 1 and {MaxWidth}.");
        Require(Within(NumLayers, MaxLayers) && (!IsEncoderDecoder || Within(NumDecoderLayers, MaxLayers)), $"the number of layers must be between 1 and {MaxLayers}.");
        Require(Within(NumHeads, MaxCount), $"the number of attention heads ({NumHeads}) must be between 1 and {MaxCount}.");
        Require(NumKvHeads > 0 && NumHeads % NumKvHeads == 0, $"num_attention_heads ({NumHeads}) must be a multiple of num_key_value_heads ({NumKvHeads}).");
        Require(HeadDim > 0 && HeadDim <= MaxWidth && (HeadDim % 2 == 0 || IsEncoderDecoder), $"the head dimension ({HeadDim}) must be positive, at most {MaxWidth}, and even (RoPE rotates pairs).");
        if (Family is ModelFamily.Olmoe or ModelFamily.Deepseek or ModelFamily.GraniteMoe)
            Require(HiddenSize % NumHeads == 0, $"hidden_size ({HiddenSize}) must be a multiple of num_attention_heads ({NumHeads}).");
        Require(NumExperts >= 0 && NumExperts <= MaxExperts, $"the number of experts ({NumExperts}) must be between 0 and {MaxExperts}.");
        Require(MoeLayers.Any(m => m) || DecoderMoeLayers.Any(m => m) || NumExperts == 0, "no layer is a MoE layer (check decoder_sparse_step, mlp_only_layers, first_k_dense_replace, moe_layer_freq).");
        if (MoeLayerCount > 0)
        {
            Require(NumExperts > 0, "a MoE layer needs num_experts > 0.");
            Require(TopK >= 1 && TopK <= NumExperts, $"num_experts_per_tok ({TopK}) must be between 1 and the number of experts ({NumExperts}).");
            Require(Within(ExpertIntermediateSize, MaxWidth), $"the expert intermediate size ({ExpertIntermediateSize}) must be between 1 and {MaxWidth}.");
        }
        Require(IntermediateSize >= 0 && IntermediateSize <= MaxWidth, $"intermediate_size ({IntermediateSize}) must be between 0 and {MaxWidth}.");
        if (MoeLayers.Any(m => !m) || DecoderMoeLayers.Any(m => !m))
            Require(IntermediateSize > 0, $"intermediate_size ({IntermediateSize}) must be positive: some layers are dense.");
        Require(SharedExpertIntermediateSize >= 0 && SharedExpertIntermediateSize <= MaxWidth, $"the shared expert size ({SharedExpertIntermediateSize}) must be between 0 and {MaxWidth}.");
        Require(MaxPositionEmbeddings > 0, $"max_position_embeddings ({MaxPositionEmbeddings}) must be positive.");
        Require(RopeTheta > 0, $"rope_theta ({RopeTheta}) must be positive.");
        Require(NormEps >= 0, $"the norm epsilon ({NormEps}) must not be negative.");
        if (GroupLimited && MoeLayerCount > 0)
        {
            Require(NumGroups >= 1 && NumExperts % NumGroups == 0, $"n_routed_experts ({NumExperts}) must be a multiple of n_group ({NumGroups}).");
            Require(TopKGroups >= 1 && TopKGroups <= NumGroups, $"topk_group ({TopKGroups}) must be between 1 and n_group ({NumGroups}).");
            Require(Family != ModelFamily.DeepseekV3 || NumExperts / NumGroups >= 2, $"each of the n_group ({NumGroups}) groups needs at least 2 of the {NumExperts} experts (a group scores its top two).");
            Require(TopK <= TopKGroups * (NumExperts / NumGroups), $"num_experts_per_tok ({TopK}) exceeds the experts of topk_group ({TopKGroups}) groups.");
        }
        Require(LogitsScaling != 0 && double.IsFinite(LogitsScaling), $"logits_scaling ({LogitsScaling}) must not be zero.");
        Require(Rope.Kind == RopeKind.Default || !IsEncoderDecoder, "rope scaling does not apply to an encoder-decoder model.");
        Require(ClipQkv is null or > 0, $"clip_qkv ({ClipQkv}) must be positive.");
        if (IsEncoderDecoder)
        {
            Require(DecoderStartTokenId >= 0 && DecoderStartTokenId < VocabSize, $"decoder_start_token_id ({DecoderStartTokenId}) is outside the vocabulary (0..{VocabSize - 1}).");
            Require(RelativeAttentionNumBuckets is >= 4 and <= MaxCount, $"relative_attention_num_buckets ({RelativeAttentionNumBuckets}) must be between 4 and {MaxCount}.");
            Require(RelativeAttentionMaxDistance > RelativeAttentionNumBuckets / 2, $"relative_attention_max_distance ({RelativeAttentionMaxDistance}) must exceed half the number of buckets ({RelativeAttentionNumBuckets / 2}).");
        }
        if (Mxfp4Experts)
            Require(HiddenSize % 32 == 0 && ExpertIntermediateSize % 32 == 0, $"MXFP4 experts need hidden_size ({HiddenSize}) and intermediate_size ({ExpertIntermediateSize}) to be multiples of 32 (the MXFP4 block).");
        Require(HiddenAct is "silu" or "relu" or "gelu" or "gelu_new" or "gelu_pytorch_tanh", $"hidden_act '{HiddenAct}' is not implemented (silu, relu, gelu, gelu_new).");
    }
}
