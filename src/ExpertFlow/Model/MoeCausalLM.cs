using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Toolkit.Runtime.Safetensors;
using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>
/// Decoder-only MoE language model (Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE, DeepSeek-MoE v1) with a preallocated KV cache.
/// Built on the meta device from config.json, then materialised from the safetensors checkpoint.
/// </summary>
public sealed class MoeCausalLM : IMoeModel, DecodeGraphs.IStepBody
{
    readonly ParamSet ps = new();
    readonly IWeightSource checkpoint;
    readonly Param embed, finalNorm, lmHead;
    readonly Layer[] layers;
    readonly RopeTables rope;
    KvCache? cache;
    long step;
    readonly DecodeGraphs? graphs;     // whole decode steps (resident stacked experts)
    readonly DecodeGraphs? segmented;  // decode steps broken at every MoE layer (experts through the provider, eagerly)
    readonly int[] moeIndex;      // decoder layers with a MoE block, in order
    StepContext? segmentStep;     // the step a segmented replay serves (routing for observers)

    sealed record Layer(Param InputNorm, Param PostNorm, DecoderAttention Attention, MoeBlock? Moe, Param? Gate, Param? Up, Param? Down);

    public MoeConfig Config { get; }
    public Device Device { get; }
    public ScalarType DType { get; }
    public ExpertCatalog Experts { get; }
    public IExpertProvider ExpertProvider { get; }
    public List<IRoutingObserver> Observers { get; } = [];
    public int[] CacheLengths => cache?.Lengths ?? [];
    public KvCache? Cache
    {
        get => cache;
        set => cache = value;
    }
    /// <summary>Bytes of the non-expert weights on the device.</summary>
    public long DenseBytes => ps.Bytes;
    public long CacheBytes => cache?.Bytes ?? 0;

    MoeCausalLM(IWeightSource checkpoint, MoeConfig c, ModelLoadOptions o)
    {
        this.checkpoint = checkpoint;
        Config = c;
        Device = o.Device ?? CPU;
        DType = o.DType;
        var (expertsPrefix, gateName, upName, downName) = ExpertNames(c.Family);
        long h = c.HiddenSize;
        embed = ps.Declare("model.embed_tokens.weight", c.VocabSize, h);
        layers = new Layer[c.NumLayers];
        for (int i = 0; i < c.NumLayers; i++)
        {
            string p = $"model.layers.{i}";
            var attn = new DecoderAttention(ps, checkpoint, c, i, $"{p}.self_attn");
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
        Experts = new ExpertCatalog(moeLayers, c.NumExperts, gated: true, DType, (layer, e) =>
        {
            string b = $"model.layers.{layer}.{expertsPrefix}.experts.{e}";
            return new ExpertIdentity(layer, e,
                [new ExpertTensor("gate", $"{b}.{gateName}.weight", [c.ExpertIntermediateSize, h]),
                 new ExpertTensor("up", $"{b}.{upName}.weight", [c.ExpertIntermediateSize, h])],
                new ExpertTensor("down", $"{b}.{downName}.weight", [h, c.ExpertIntermediateSize]));
        }, checkpoint);
        // check every expert's tensors before anything is allocated
        foreach (int layer in moeLayers)
            for (int e = 0; e < c.NumExperts; e++)
            {
                var id = Experts.Identity(layer, e);
                foreach (var t in id.InputParts.Append(id.Output)) checkpoint.Check(t.Name, t.Shape);
            }

        ps.Materialise(checkpoint, Device, DType);
        foreach (var l in layers)
        {
            l.Attention.Prepare();
            l.Moe?.Prepare();
        }
        rope = new RopeTables(c.HeadDim, c.RopeTheta, c.MaxPositionEmbeddings, Device);
        ExpertProvider = o.Experts ?? new ResidentExpertProvider();
        ExpertProvider.Attach(Experts, Device);
        moeIndex = Enumerable.Range(0, c.NumLayers).Where(i => layers[i].Moe != null).ToArray();
        if (Device.type == TorchSharp.DeviceType.CUDA)
        {
            graphs = new DecodeGraphs(o.Log ?? NullLogger.Instance, maxCaches: 4);
            segmented = new DecodeGraphs(o.Log ?? NullLogger.Instance, maxCaches: 2);
        }
        UseCudaGraphs = o.CudaGraphs;
    }

    /// <summary>Replay eligible decode steps from CUDA graphs (on CUDA only; see <see cref="ModelLoadOptions.CudaGraphs"/>).</summary>
    public bool UseCudaGraphs { get; set; }

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
    public (int Captures, long Replays, string? Off) GraphStats => graphs == null || segmented == null ? (0, 0, "not on CUDA")
        : (graphs.Captures + segmented.Captures, graphs.Replays + segmented.Replays, graphs.DisabledBecause ?? segmented.DisabledBecause);

    static (string Prefix, string Gate, string Up, string Down) ExpertNames(ModelFamily f) =>
        f == ModelFamily.Mixtral ? ("block_sparse_moe", "w1", "w3", "w2") : ("mlp", "gate_proj", "up_proj", "down_proj");

    public static MoeCausalLM Load(string folder, MoeConfig? config = null, ModelLoadOptions? options = null)
    {
        config ??= MoeConfig.Load(folder);
        if (config.IsEncoderDecoder) throw new ArgumentException($"{folder} holds an encoder-decoder model ({config.ModelType}); load it with SwitchModel.");
        return Create(config, new CheckpointWeights(SafetensorsCheckpoint.Open(folder)), options);
    }

    /// <summary>Builds the model from any weight source (the model owns and disposes it).</summary>
    public static MoeCausalLM Create(MoeConfig config, IWeightSource weights, ModelLoadOptions? options = null)
    {
        options ??= new ModelLoadOptions();
        try
        {
            MoeModels.CheckDType(options.DType);
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

    public void ResetCache(int rows, int capacity)
    {
        if (capacity > Config.MaxPositionEmbeddings)
            throw new ArgumentException($"A cache of {capacity} positions exceeds the model's max_position_embeddings ({Config.MaxPositionEmbeddings}); use a shorter prompt or fewer new tokens.");
        if (cache != null && cache.Rows == rows && cache.Capacity >= capacity) { cache.Clear(); return; }
        cache?.Dispose();
        cache = new KvCache(Config.NumLayers, rows, Config.NumKvHeads, capacity, Config.HeadDim, DType, Device);
    }

    public Tensor Step(int[][] tokens, bool allPositions = false, int[]? sequenceIds = null)
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
                    $"(max_position_embeddings {Config.MaxPositionEmbeddings}). Shorten the prompt or lower --max-new-tokens.");
        foreach (var row in tokens)
            foreach (int id in row)
                if (id < 0 || id >= Config.VocabSize) throw new ArgumentException($"Token id {id} is outside the vocabulary (0..{Config.VocabSize - 1}).");

        if (graphs != null && UseCudaGraphs && !allPositions && GraphEligible(tokens, starts))
        {
            using var noGrad = no_grad();
            var stepIds = tokens.Select(t => t.Length == 1 ? (long)t[0] : 0L).ToArray();
            var stepPositions = starts.Select(s0 => (long)s0).ToArray(); // below capacity: checked above and by GraphEligible
            var replayed = graphs.TryStep(cache, stepIds, stepPositions, Device, new WholeStep(this));
            if (replayed is not null)
            {
                step++;
                for (int r = 0; r < rows; r++) cache.Lengths[r] += tokens[r].Length;
                if (tokens.All(t => t.Length == 1)) return replayed;
                // rows that fed no token give zeros, as in an eager step (the result stays in the caller's scope)
                using (var active = tensor(tokens.Select(t => t.Length == 1 ? 1f : 0f).ToArray(), ScalarType.Float32, Device))
                using (var column = active.unsqueeze(1))
                    replayed.mul_(column);
                return replayed;
            }
        }

        if (segmented != null && UseCudaGraphs && !allPositions && SegmentedEligible(tokens))
        {
            using var noGrad = no_grad();
            var ctx1 = new StepContext
            {
                Step = step, Rows = rows, Width = 1, Counts = tokens.Select(t => t.Length).ToArray(), Starts = starts, Tokens = tokens,
                SequenceIds = sequenceIds ?? Enumerable.Range(0, rows).ToArray(), Observed = Observers.Count > 0,
            };
            if (ctx1.Observed)
            {
                var info = new StepInfo(ctx1.Step, StepInfo.IsPromptStep(starts, tokens), ctx1.SequenceIds, starts, tokens);
                foreach (var o in Observers) o.OnStep(info);
            }
            segmentStep = ctx1;
            Tensor? replayed;
            try { replayed = segmented.TryStep(cache, tokens.Select(t => (long)t[0]).ToArray(), starts.Select(s0 => (long)s0).ToArray(), Device, this); }
            finally { segmentStep = null; }
            if (replayed is not null)
            {
                step++;
                for (int r = 0; r < rows; r++) cache.Lengths[r]++;
                ctx1.Publish(Observers);
                return replayed;
            }
        }

        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var counts = tokens.Select(t => t.Length).ToArray();
        var flatIds = new long[rows * width];
        var positions = new long[rows * width];
        var valid = new List<long>();
        for (int r = 0; r < rows; r++)
            for (int t = 0; t < width; t++)
            {
                flatIds[r * width + t] = t < counts[r] ? tokens[r][t] : 0;
                positions[r * width + t] = Math.Min(starts[r] + t, cache.Capacity - 1);
                if (t < counts[r]) valid.Add(r * width + t);
            }
        bool allValid = valid.Count == rows * width;
        var ctx = new StepContext
        {
            Step = step++, Rows = rows, Width = width, Counts = counts, Starts = starts, Tokens = tokens,
            SequenceIds = sequenceIds ?? Enumerable.Range(0, rows).ToArray(),
            ValidIndex = allValid ? null : tensor(valid.ToArray(), ScalarType.Int64, Device),
            Observed = Observers.Count > 0,
        };
        if (ctx.Observed)
        {
            var info = new StepInfo(ctx.Step, StepInfo.IsPromptStep(starts, tokens), ctx.SequenceIds, starts, tokens);
            foreach (var o in Observers) o.OnStep(info);
        }
        var ids = tensor(flatIds, ScalarType.Int64, Device);
        var pos = tensor(positions, ScalarType.Int64, Device).view(rows, width);
        long keyLength = Enumerable.Range(0, rows).Max(r => starts[r] + Math.Max(counts[r], 1));
        keyLength = Math.Min(Math.Max(keyLength, width), cache.Capacity);
        var slots = new List<long>(valid.Count);
        for (int r = 0; r < rows; r++)
            for (int t = 0; t < counts[r]; t++) slots.Add((long)r * cache.Capacity + starts[r] + t);
        // one new token per row and all rows equally long: every cached key is visible, no mask needed
        bool unmasked = width == 1 && counts.All(n => n == 1) && starts.All(s0 => s0 == starts[0]) && keyLength == starts[0] + 1;
        var attnStep = MakeStep(pos, rows, width, keyLength, tensor(slots.ToArray(), ScalarType.Int64, Device), ctx.ValidIndex, unmasked);

        var hidden = RunLayers(embed.Value.index_select(0, ids).view(rows, width, Config.HiddenSize), attnStep, ctx);
        for (int r = 0; r < rows; r++) cache.Lengths[r] += counts[r];

        Tensor selected;
        if (allPositions || width == 1 && counts.All(n => n == 1)) selected = allPositions ? hidden : hidden.view(rows, Config.HiddenSize);
        else
        {
            var last = Enumerable.Range(0, rows).Select(r => (long)(r * width + Math.Max(counts[r] - 1, 0))).ToArray();
            selected = hidden.view(rows * width, Config.HiddenSize).index_select(0, tensor(last, ScalarType.Int64, Device));
        }
        var logits = nn.functional.linear(Ops.RmsNorm(selected, finalNorm.Value, Config.NormEps), lmHead.Value).to(ScalarType.Float32);
        if (!allPositions && counts.Any(n => n == 0))
            logits = logits * tensor(counts.Select(n => n > 0 ? 1f : 0f).ToArray(), ScalarType.Float32, Device).unsqueeze(1);
        ctx.Publish(Observers);
        return logits.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Whether a step can run from a CUDA graph: one token per row (finished rows feed none and must have room for the
    /// unused write of their dummy token), experts resident as stacked tensors (the few-token and dense kernels never
    /// read the routing on the host) and nobody observing the routing.
    /// </summary>
    bool GraphEligible(int[][] tokens, int[] starts)
    {
        if (Observers.Count > 0 || tokens.Length > MoeBlock.DenseTokenLimit) return false;
        if (tokens.Any(t => t.Length > 1) || tokens.All(t => t.Length == 0)) return false;
        for (int r = 0; r < tokens.Length; r++)
            if (tokens[r].Length == 0 && starts[r] >= cache!.Capacity) return false;
        return AllExpertsStacked;
    }

    /// <summary>Every MoE layer's experts are resident as stacked tensors (their kernels never read the routing on the host).</summary>
    bool AllExpertsStacked => moeIndex.All(i => (ExpertProvider as IStackedExperts)?.Stacked(i) is not null);

    /// <summary>
    /// Whether a step runs as segmented CUDA graphs: every row feeds exactly one token and some MoE layer's experts are
    /// not resident as stacked tensors (otherwise the whole-step graph applies).
    /// </summary>
    bool SegmentedEligible(int[][] tokens)
    {
        return tokens.All(t => t.Length == 1) && moeIndex.Length > 0 && !AllExpertsStacked;
    }

    /// <summary>The whole decode step as one graph body (<see cref="DecodeFixedShape"/>), for resident stacked experts.</summary>
    sealed class WholeStep(MoeCausalLM model) : DecodeGraphs.IStepBody
    {
        public int ExpertBreaks => 0;
        public DecodeGraphs.Buffers[] AllocateBuffers(int rows) => [];
        public Tensor? Segment(int j, Tensor ids, Tensor positions, DecodeGraphs.Buffers[] buffers) => model.DecodeFixedShape(ids, positions);
        public void Experts(int j, DecodeGraphs.Buffers[] buffers) => throw new InvalidOperationException("a whole-step graph has no expert breaks");
    }

    int DecodeGraphs.IStepBody.ExpertBreaks => moeIndex.Length;

    DecodeGraphs.Buffers[] DecodeGraphs.IStepBody.AllocateBuffers(int rows)
    {
        long h = Config.HiddenSize;
        int guessWidth = GuessWidth;
        return moeIndex.Select((i, j) =>
        {
            var moe = layers[i].Moe!;
            int k = moe.TopK;
            int g = j + 1 < moeIndex.Length ? guessWidth : 0;
            var routing = zeros([rows, k + g], ScalarType.Int64, Device).DetachFromDisposeScope();
            return new DecodeGraphs.Buffers
            {
                Normed = zeros([rows, h], DType, Device).DetachFromDisposeScope(),
                Residual = zeros([rows, h], DType, Device).DetachFromDisposeScope(),
                Routing = routing,
                Experts = routing.narrow(1, 0, k).DetachFromDisposeScope(),
                Guess = g > 0 ? routing.narrow(1, k, g).DetachFromDisposeScope() : null,
                Weights = zeros([rows, k], moe.WeightsDType(DType), Device).DetachFromDisposeScope(),
                Shared = moe.SharedWidth > 0 ? zeros([rows, moe.SharedWidth], DType, Device).DetachFromDisposeScope() : null,
                BySlot = zeros([rows * k, h], DType, Device).DetachFromDisposeScope(),
            };
        }).ToArray();
    }

    /// <summary>
    /// Segment j of a decode step broken at its MoE layers (see <see cref="DecodeGraphs"/>): the (j-1)-th MoE layer's combine (or
    /// the embedding), the layers up to the j-th MoE layer's router, whose outputs go to <paramref name="buffers"/>[j];
    /// the last segment returns fp32 logits. Per-step values come from device tensors, as in <see cref="DecodeFixedShape"/>.
    /// </summary>
    Tensor? DecodeGraphs.IStepBody.Segment(int j, Tensor ids, Tensor positions, DecodeGraphs.Buffers[] buffers)
    {
        var (c, attnStep) = FixedShapeStep(positions);
        int rows = (int)ids.shape[0];
        long h = Config.HiddenSize;
        Tensor hidden;
        int first;
        if (j == 0)
        {
            hidden = embed.Value.index_select(0, ids).view(rows, 1, h);
            first = 0;
        }
        else
        {
            var b = buffers[j - 1];
            var moe = layers[moeIndex[j - 1]].Moe!;
            var y = MoeBlock.WeightedSum(b.Weights, b.BySlot, rows, moe.TopK, h, DType);
            hidden = moe.Combine(b.Residual, y, b.Shared).view(rows, 1, h);
            first = moeIndex[j - 1] + 1;
        }
        int last = j < moeIndex.Length ? moeIndex[j] : layers.Length - 1;
        for (int i = first; i <= last; i++)
        {
            using var layerScope = NewDisposeScope();
            var layer = layers[i];
            hidden = layer.Attention.Forward(Ops.RmsNorm(hidden, layer.InputNorm.Value, Config.NormEps), hidden, attnStep, c);
            var normed = Ops.RmsNorm(hidden, layer.PostNorm.Value, Config.NormEps);
            if (layer.Moe != null)
            {
                var flat = normed.view(rows, h);
                var (experts, weights, shared) = layer.Moe.Router(flat);
                var b = buffers[j];
                b.Normed.copy_(flat);
                b.Residual.copy_(hidden.view(rows, h));
                b.Experts.copy_(experts);
                b.Weights.copy_(weights);
                b.Shared?.copy_(shared!);
                if (b.Guess is { } guess) guess.copy_(Guess(moeIndex[j + 1], hidden.view(rows, h), (int)guess.shape[1]));
                return null;
            }
            hidden = (hidden + Ops.GatedFfn(normed, layer.Gate!.Value, layer.Down!.Value, Config.HiddenAct)).MoveToOuterDisposeScope();
        }
        return nn.functional.linear(Ops.RmsNorm(hidden.view(rows, h), finalNorm.Value, Config.NormEps), lmHead.Value).to(ScalarType.Float32);
    }

    void DecodeGraphs.IStepBody.Experts(int j, DecodeGraphs.Buffers[] buffers)
    {
        var b = buffers[j];
        int layer = moeIndex[j];
        var moe = layers[layer].Moe!;
        using var scope = NewDisposeScope();
        var routing = b.Routing.cpu().data<long>().ToArray(); // the one host round trip per MoE layer (routing and guess)
        int g = (int)(b.Guess?.shape[1] ?? 0);
        var (chosen, guess) = MoeBlock.SplitColumns(routing, moe.TopK, g);
        if (segmentStep is { Observed: true } ctx)
            ctx.Routing.Add((layer, b.Experts.contiguous().clone().DetachFromDisposeScope(), b.Weights.clone().DetachFromDisposeScope()));
        moe.ExpertsBySlot(b.Normed, chosen, moe.TopK, ExpertProvider, into: b.BySlot, guess: g > 0 ? (moeIndex[j + 1], guess, g) : null);
    }

    /// <summary>
    /// One decode token per row with every per-step value read from device tensors, no host synchronisation and
    /// shapes fixed by the cache: <paramref name="ids"/> [rows] and <paramref name="positions"/> [rows] (int64) give
    /// RoPE rows, the cache slots written and an attention mask over the whole cache capacity. The body of a CUDA-graph
    /// step; equal to an eager step up to floating-point order. Does not advance the cache lengths. Returns fp32 logits [rows, V].
    /// </summary>
    internal Tensor DecodeFixedShape(Tensor ids, Tensor positions)
    {
        var (_, attnStep) = FixedShapeStep(positions);
        int rows = (int)ids.shape[0];
        var ctx = new StepContext
        {
            Step = step, Rows = rows, Width = 1, Counts = new int[rows], Starts = new int[rows], Tokens = [],
            SequenceIds = [], Observed = false,
        };
        var hidden = RunLayers(embed.Value.index_select(0, ids).view(rows, 1, Config.HiddenSize), attnStep, ctx);
        return nn.functional.linear(Ops.RmsNorm(hidden.view(rows, Config.HiddenSize), finalNorm.Value, Config.NormEps), lmHead.Value).to(ScalarType.Float32);
    }

    /// <summary>
    /// Attention inputs of a one-token-per-row step from device positions [rows]: RoPE rows, cache slots, and a mask
    /// over the whole cache capacity (shapes fixed by the cache, as a CUDA graph needs).
    /// </summary>
    (KvCache Cache, DecoderStep Step) FixedShapeStep(Tensor positions)
    {
        var c = cache ?? throw new InvalidOperationException("Call ResetCache before decoding.");
        int rows = (int)positions.shape[0];
        var slots = positions + arange(0, rows, 1, ScalarType.Int64, Device) * c.Capacity;
        return (c, MakeStep(positions.view(rows, 1), rows, 1, c.Capacity, slots, null, unmasked: false));
    }

    /// <summary>All decoder layers on hidden states [rows, width, H]; returns the last layer's output.</summary>
    Tensor RunLayers(Tensor hidden, DecoderStep attnStep, StepContext ctx)
    {
        int rows = ctx.Rows, width = ctx.Width;
        int guessWidth = GuessWidth;
        for (int i = 0; i < layers.Length; i++)
        {
            var layer = layers[i];
            // One scope per layer: its temporaries go back to the allocator before the next layer starts. Under the
            // step's scope alone every layer's temporaries would live until the step ends (3.8 GiB for a 512-token
            // prefill of the Qwen1.5-MoE shape, measured).
            using var layerScope = NewDisposeScope();
            hidden = layer.Attention.Forward(Ops.RmsNorm(hidden, layer.InputNorm.Value, Config.NormEps), hidden, attnStep, cache!);
            var normed = Ops.RmsNorm(hidden, layer.PostNorm.Value, Config.NormEps);
            if (layer.Moe != null)
            {
                var flat = normed.view(rows * width, Config.HiddenSize);
                var residual = hidden.view(rows * width, Config.HiddenSize);
                if (ctx.ValidIndex is not null)
                {
                    // padding rows keep their hidden state; only valid tokens reach the router and the experts
                    flat = flat.index_select(0, ctx.ValidIndex);
                    residual = residual.index_select(0, ctx.ValidIndex);
                }
                var guess = guessWidth > 0 && NextMoeLayer(i) is int next ? (Guess(next, residual, guessWidth), next) : ((Tensor, int)?)null;
                var y = layer.Moe.Forward(flat, residual, ExpertProvider, ctx, guess);
                hidden = ctx.ValidIndex is null ? y.view(rows, width, Config.HiddenSize)
                    : hidden.view(rows * width, Config.HiddenSize).index_copy(0, ctx.ValidIndex, y).view(rows, width, Config.HiddenSize);
            }
            else hidden = hidden + Ops.GatedFfn(normed, layer.Gate!.Value, layer.Down!.Value, Config.HiddenAct);
            hidden = hidden.MoveToOuterDisposeScope();
        }
        return hidden;
    }

    /// <summary>Experts per token the provider wants guessed for each next MoE layer (0: no look-ahead guesses).</summary>
    int GuessWidth => (ExpertProvider as IAnticipatingProvider)?.AnticipatedExperts ?? 0;

    /// <summary>The first MoE layer after layer <paramref name="i"/>, or null.</summary>
    int? NextMoeLayer(int i)
    {
        foreach (int m in moeIndex) if (m > i) return m;
        return null;
    }

    /// <summary>
    /// Look-ahead guess of MoE layer <paramref name="next"/>'s experts from an earlier layer's post-attention hidden states
    /// [N, H] (that layer's MoE input before its norm): the next layer's norm and router applied to them, top
    /// <paramref name="k"/> per token. Successive layers' inputs are alike, so the guess is often right (on the bench's
    /// random Qwen1.5-MoE shape the best guess is one of the next layer's experts 89 % of the time; docs/expertflow-offloading.md).
    /// </summary>
    Tensor Guess(int next, Tensor hidden, int k) =>
        layers[next].Moe!.Guess(Ops.RmsNorm(hidden, layers[next].PostNorm.Value, Config.NormEps), k);

    DecoderStep MakeStep(Tensor pos, int rows, int width, long keyLength, Tensor slots, Tensor? validIndex, bool unmasked)
    {
        var flatPos = pos.reshape(-1);
        var cos = rope.Cos.index_select(0, flatPos).view(rows, width, 1, Config.HeadDim).to(DType);
        var sin = rope.Sin.index_select(0, flatPos).view(rows, width, 1, Config.HeadDim);
        long half = Config.HeadDim / 2;
        var signedSin = cat([-sin.narrow(-1, 0, half), sin.narrow(-1, half, half)], -1).to(DType);
        Tensor? mask = null;
        if (!unmasked)
        {
            var keys = arange(0, keyLength, 1, ScalarType.Int64, Device).view(1, 1, keyLength);
            var allowed = keys <= pos.unsqueeze(-1); // [B, T, S]
            mask = Ops.MaskedFill(zeros([rows, width, keyLength], DType, Device), allowed.logical_not(), double.NegativeInfinity).unsqueeze(1);
        }
        return DecoderStep.Create(cos, signedSin, slots, validIndex, mask, keyLength, Config.NumHeads / Config.NumKvHeads);
    }

    public void Dispose()
    {
        foreach (var p in ps.All) p.Value.Dispose();
        graphs?.Dispose();
        segmented?.Dispose();
        foreach (var l in layers)
        {
            l.Attention.Release();
            l.Moe?.Release();
        }
        rope.Dispose();
        cache?.Dispose();
        ExpertProvider.Dispose();
        checkpoint.Dispose();
    }
}
