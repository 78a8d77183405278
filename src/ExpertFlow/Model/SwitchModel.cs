using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Toolkit.Runtime.Safetensors;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ExpertFlow.Model;

/// <summary>
/// Switch Transformers (T5 encoder-decoder with top-1 MoE feed-forward blocks), as transformers 5.x computes it in
/// eval: T5 layer norm (RMS, no bias), relative attention bias from the first block of each stack, unscaled
/// attention scores, ReLU experts weighted by the router probability. Expert layers are numbered encoder blocks
/// 0..N-1, then decoder blocks N..N+M-1. Call <see cref="Encode"/> with the prompts, then <see cref="ResetCache"/>
/// and <see cref="Step"/> with decoder tokens (starting with decoder_start_token_id).
/// </summary>
public sealed class SwitchModel : MoeModelBase
{
    readonly Param shared, encFinalNorm, decFinalNorm, encRelBias, decRelBias;
    readonly Param lmHead;
    readonly Block[] encoder, decoder;
    Tensor? encoderOut;          // [B, S, d]
    Tensor? encoderMask;         // [B, 1, 1, S] additive
    Tensor[]? crossKeys, crossValues; // per decoder block [B, h, S, dkv]
    int[]? encoderLengths;
    long step;

    sealed record Attn(Param Q, Param K, Param V, Param O, Param Norm);
    sealed record Block(Attn Self, Attn? Cross, Param FfNorm, MoeBlock? Moe, Param? Wi, Param? Wo);

    public override DecodeGraphStats GraphStats => DecodeGraphStats.None("encoder-decoder models decode eagerly");

    /// <summary>The decoder self-attention cache plus the cross-attention keys and values of the encoded prompts.</summary>
    public override long KvCacheBytes(Workload workload) =>
        CacheBytesFor(Config.NumDecoderLayers, Config.NumHeads, Config.HeadDim, workload)
        + CacheBytesFor(Config.NumDecoderLayers, Config.NumHeads, Config.HeadDim, workload with { Capacity = workload.PromptTokens });

    public override int[][] BeginSequences(IReadOnlyList<int[]> prompts, int[]? sequenceIds = null)
    {
        Encode(prompts, sequenceIds);
        return prompts.Select(_ => new[] { Config.DecoderStartTokenId }).ToArray();
    }

    SwitchModel(IWeightSource checkpoint, MoeConfig c, ModelLoadOptions o) : base(checkpoint, c, o)
    {
        long d = c.HiddenSize, inner = (long)c.NumHeads * c.HeadDim;
        shared = ps.Declare("shared.weight", c.VocabSize, d);
        Attn MakeAttn(string p, string kind) => new(
            ps.Declare($"{p}.{kind}.q.weight", inner, d), ps.Declare($"{p}.{kind}.k.weight", inner, d),
            ps.Declare($"{p}.{kind}.v.weight", inner, d), ps.Declare($"{p}.{kind}.o.weight", d, inner),
            ps.Declare($"{p}.layer_norm.weight", d));
        Block MakeBlock(string stack, int i, bool isDecoder, bool sparse, int globalLayer)
        {
            string b = $"{stack}.block.{i}.layer";
            var self = MakeAttn($"{b}.0", "SelfAttention");
            var cross = isDecoder ? MakeAttn($"{b}.1", "EncDecAttention") : null;
            string ff = $"{b}.{(isDecoder ? 2 : 1)}";
            var norm = ps.Declare($"{ff}.layer_norm.weight", d);
            if (sparse) return new Block(self, cross, norm, new MoeBlock(ps, c, globalLayer, $"{ff}.mlp", "router.classifier.weight", false, "", null), null, null);
            return new Block(self, cross, norm, null, ps.Declare($"{ff}.mlp.wi.weight", c.IntermediateSize, d), ps.Declare($"{ff}.mlp.wo.weight", d, c.IntermediateSize));
        }
        encoder = Enumerable.Range(0, c.NumLayers).Select(i => MakeBlock("encoder", i, false, c.MoeLayers[i], i)).ToArray();
        decoder = Enumerable.Range(0, c.NumDecoderLayers).Select(i => MakeBlock("decoder", i, true, c.DecoderMoeLayers[i], c.NumLayers + i)).ToArray();
        encRelBias = ps.Declare("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", c.RelativeAttentionNumBuckets, c.NumHeads);
        decRelBias = ps.Declare("decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", c.RelativeAttentionNumBuckets, c.NumHeads);
        encFinalNorm = ps.Declare("encoder.final_layer_norm.weight", d);
        decFinalNorm = ps.Declare("decoder.final_layer_norm.weight", d);
        lmHead = c.TieWordEmbeddings ? shared : ps.Declare("lm_head.weight", c.VocabSize, d);

        var moeLayers = Enumerable.Range(0, c.NumLayers).Where(i => c.MoeLayers[i])
            .Concat(Enumerable.Range(0, c.NumDecoderLayers).Where(i => c.DecoderMoeLayers[i]).Select(i => c.NumLayers + i)).ToArray();
        Experts = new ExpertCatalog(moeLayers, c.NumExperts, gated: false, DType, (layer, e) =>
        {
            bool dec = layer >= c.NumLayers;
            string b = dec ? $"decoder.block.{layer - c.NumLayers}.layer.2" : $"encoder.block.{layer}.layer.1";
            string p = $"{b}.mlp.experts.expert_{e}";
            return new ExpertIdentity(layer, e, [new ExpertTensor("wi", $"{p}.wi.weight", [c.IntermediateSize, d])],
                new ExpertTensor("wo", $"{p}.wo.weight", [d, c.IntermediateSize]));
        }, checkpoint, o.ExpertFormat);
        foreach (int layer in moeLayers)
            for (int e = 0; e < c.NumExperts; e++)
            {
                var id = Experts.Identity(layer, e);
                foreach (var t in id.InputParts.Append(id.Output)) checkpoint.Check(t.Name, t.Shape);
            }
        ps.Materialise(checkpoint, Device, DType);
        ExpertProvider = o.Experts ?? new ResidentExpertProvider();
        ExpertProvider.Attach(Experts, Device);
    }

    public static SwitchModel Load(string folder, MoeConfig? config = null, ModelLoadOptions? options = null)
    {
        options ??= new ModelLoadOptions();
        MoeModels.CheckDType(options.DType);
        config ??= MoeConfig.Load(folder);
        if (!config.IsEncoderDecoder) throw new ArgumentException($"{folder} holds a decoder-only model ({config.ModelType}); load it with MoeCausalLM.");
        IWeightSource checkpoint = PrequantizedWeights.Wrap(folder, new CheckpointWeights(SafetensorsCheckpoint.Open(folder)));
        try
        {
            using var _ = no_grad();
            var model = new SwitchModel(checkpoint, config, options);
            (options.Log ?? NullLogger.Instance).LogInformation("Loaded switch_transformers from {Folder}: {Enc}+{Dec} blocks, {Experts} experts, {DType}",
                folder, config.NumLayers, config.NumDecoderLayers, config.NumExperts, options.DType);
            return model;
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    /// <summary>T5's relative position buckets, with transformers' tensor arithmetic (fp32 log).</summary>
    Tensor Buckets(Tensor relative, bool bidirectional)
    {
        long numBuckets = Config.RelativeAttentionNumBuckets;
        var buckets = zeros_like(relative);
        if (bidirectional)
        {
            numBuckets /= 2;
            buckets = buckets + (relative > 0).to(ScalarType.Int64) * numBuckets;
            relative = relative.abs();
        }
        else relative = -minimum(relative, zeros_like(relative));
        long maxExact = numBuckets / 2;
        var isSmall = relative < maxExact;
        var large = maxExact + (log(relative.to(ScalarType.Float32) / (float)maxExact)
            / (float)Math.Log(Config.RelativeAttentionMaxDistance / (double)maxExact) * (numBuckets - maxExact)).to(ScalarType.Int64);
        large = minimum(large, full_like(large, numBuckets - 1));
        return buckets + where(isSmall, relative, large);
    }

    /// <summary>Position bias [1 or B, heads, T, S] for query positions <paramref name="queryPos"/> [B, T] and keys 0..S-1.</summary>
    Tensor PositionBias(Param table, Tensor queryPos, long keyLength, bool bidirectional)
    {
        var memory = arange(0, keyLength, 1, ScalarType.Int64, Device).view(1, 1, keyLength);
        var relative = memory - queryPos.unsqueeze(-1); // [B, T, S]
        var values = Ops.Embed(Buckets(relative, bidirectional), table.Value); // [B, T, S, h]
        return values.permute(0, 3, 1, 2);
    }

    static Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor bias)
    {
        // T5: no 1/sqrt(d) scaling; softmax in fp32, cast back
        var scores = matmul(q, k.transpose(2, 3)) + bias;
        var weights = scores.softmax(-1, ScalarType.Float32).to(q.dtype);
        return matmul(weights, v);
    }

    Tensor Heads(Tensor x, Param w) // [B, T, d] -> [B, h, T, dkv]
    {
        long b = x.shape[0], t = x.shape[1];
        return F.linear(x, w.Value).view(b, t, Config.NumHeads, Config.HeadDim).transpose(1, 2);
    }

    Tensor Merge(Tensor x, Param o) // [B, h, T, dkv] -> [B, T, d]
    {
        long b = x.shape[0], t = x.shape[2];
        return F.linear(x.transpose(1, 2).reshape(b, t, (long)Config.NumHeads * Config.HeadDim), o.Value);
    }

    Tensor FeedForward(Block block, Tensor hidden, StepContext ctx)
    {
        long b = hidden.shape[0], t = hidden.shape[1], d = hidden.shape[2];
        var normed = Ops.RmsNorm(hidden, block.FfNorm.Value, Config.NormEps);
        Tensor ff;
        if (block.Moe == null) ff = Ops.PlainFfn(normed, block.Wi!.Value, block.Wo!.Value, Config.HiddenAct);
        else
        {
            var flat = normed.view(b * t, d);
            var residual = hidden.view(b * t, d);
            if (ctx.ValidIndex is null) return block.Moe.Forward(flat, residual, ExpertProvider, ctx).view(b, t, d);
            return residual.index_copy(0, ctx.ValidIndex, block.Moe.Forward(flat.index_select(0, ctx.ValidIndex), residual.index_select(0, ctx.ValidIndex), ExpertProvider, ctx)).view(b, t, d);
        }
        return hidden + ff;
    }

    StepContext Context(int[][] tokens, int width, int[] starts, int[]? sequenceIds)
    {
        int rows = tokens.Length;
        var valid = new List<long>();
        for (int r = 0; r < rows; r++)
            for (int t = 0; t < tokens[r].Length; t++) valid.Add(r * width + t);
        return new StepContext
        {
            Step = step++, Rows = rows, Width = width, Counts = tokens.Select(t => t.Length).ToArray(), Starts = starts, Tokens = tokens,
            SequenceIds = sequenceIds ?? Enumerable.Range(0, rows).ToArray(),
            ValidIndex = valid.Count == rows * width ? null : tensor(valid.ToArray(), ScalarType.Int64, Device),
            Observed = Observers.Count > 0,
        };
    }

    static long[] Padded(int[][] tokens, int width)
    {
        var ids = new long[tokens.Length * width];
        for (int r = 0; r < tokens.Length; r++)
            for (int t = 0; t < tokens[r].Length; t++) ids[r * width + t] = tokens[r][t];
        return ids;
    }

    /// <summary>Runs the encoder over the prompts (right-padded, padding masked) and prepares cross-attention keys/values.</summary>
    public void Encode(IReadOnlyList<int[]> prompts, int[]? sequenceIds = null)
    {
        foreach (var p in prompts)
            foreach (int id in p)
                if (id < 0 || id >= Config.VocabSize) throw new ArgumentException($"Token id {id} is outside the vocabulary (0..{Config.VocabSize - 1}).");
        DisposeEncoderState();
        using var _ = no_grad();
        var tokens = prompts.Select(p => p.ToArray()).ToArray();
        int rows = tokens.Length, width = tokens.Max(t => t.Length);
        using var scope = NewDisposeScope();
        var ctx = Context(tokens, width, new int[rows], sequenceIds);
        if (ctx.Observed)
        {
            var info = new StepInfo(ctx.Step, true, ctx.SequenceIds, ctx.Starts, tokens, IsDecoder: false);
            foreach (var o in Observers) o.OnStep(info);
        }
        var ids = tensor(Padded(tokens, width), ScalarType.Int64, Device).view(rows, width);
        var lengths = tensor(tokens.Select(t => (long)t.Length).ToArray(), ScalarType.Int64, Device);
        var keyValid = arange(0, width, 1, ScalarType.Int64, Device).view(1, width) < lengths.view(rows, 1); // [B, S]
        var mask = Ops.MaskedFill(zeros([rows, 1, 1, width], DType, Device), keyValid.logical_not().view(rows, 1, 1, width), double.NegativeInfinity);
        var pos = arange(0, width, 1, ScalarType.Int64, Device).view(1, width);
        var bias = PositionBias(encRelBias, pos, width, bidirectional: true).to(DType) + mask;
        var hidden = Ops.Embed(ids, shared.Value);
        foreach (var block in encoder)
        {
            var x = Ops.RmsNorm(hidden, block.Self.Norm.Value, Config.NormEps);
            hidden = hidden + Merge(Attend(Heads(x, block.Self.Q), Heads(x, block.Self.K), Heads(x, block.Self.V), bias), block.Self.O);
            hidden = FeedForward(block, hidden, ctx);
        }
        encoderOut = Ops.RmsNorm(hidden, encFinalNorm.Value, Config.NormEps).DetachFromDisposeScope();
        encoderMask = mask.DetachFromDisposeScope();
        crossKeys = decoder.Select(b => Heads(encoderOut, b.Cross!.K).DetachFromDisposeScope()).ToArray();
        crossValues = decoder.Select(b => Heads(encoderOut, b.Cross!.V).DetachFromDisposeScope()).ToArray();
        encoderLengths = tokens.Select(t => t.Length).ToArray();
        ctx.Publish(Observers);
    }

    public override void ResetCache(int rows, int capacity)
    {
        if (encoderOut is null || encoderOut.shape[0] != rows)
            throw new InvalidOperationException($"Call Encode with {rows} prompt(s) before ResetCache.");
        if (cache != null && cache.Rows == rows && cache.Capacity >= capacity) { cache.Clear(); return; }
        cache?.Dispose();
        cache = new KvCache(Config.NumDecoderLayers, rows, Config.NumHeads, capacity, Config.HeadDim, DType, Device);
    }

    public override Tensor Step(int[][] tokens, bool allPositions = false, int[]? sequenceIds = null)
    {
        if (cache == null || encoderOut is null) throw new InvalidOperationException("Call Encode and ResetCache before Step.");
        if (tokens.Length != cache.Rows) throw new ArgumentException($"Step got {tokens.Length} rows; the cache holds {cache.Rows}.");
        int rows = tokens.Length, width = Math.Max(1, tokens.Max(t => t.Length));
        var starts = (int[])cache.Lengths.Clone();
        for (int r = 0; r < rows; r++)
            if (starts[r] + tokens[r].Length > cache.Capacity)
                throw new ArgumentException($"Sequence {r} needs {starts[r] + tokens[r].Length} decoder positions, but the KV cache holds {cache.Capacity}.");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var ctx = Context(tokens, width, starts, sequenceIds);
        if (ctx.Observed)
        {
            var info = new StepInfo(ctx.Step, StepInfo.IsPromptStep(starts, tokens), ctx.SequenceIds, starts, tokens);
            foreach (var o in Observers) o.OnStep(info);
        }
        var positions = new long[rows * width];
        var slots = new List<long>();
        for (int r = 0; r < rows; r++)
            for (int t = 0; t < width; t++)
            {
                positions[r * width + t] = starts[r] + t;
                if (t < tokens[r].Length) slots.Add((long)r * cache.Capacity + starts[r] + t);
            }
        var pos = tensor(positions, ScalarType.Int64, Device).view(rows, width);
        long keyLength = Math.Min(cache.Capacity, Enumerable.Range(0, rows).Max(r => starts[r] + Math.Max(tokens[r].Length, 1)));
        keyLength = Math.Max(keyLength, 1);
        var keys = arange(0, keyLength, 1, ScalarType.Int64, Device).view(1, 1, keyLength);
        var causal = Ops.MaskedFill(zeros([rows, width, keyLength], DType, Device), (keys <= pos.unsqueeze(-1)).logical_not(), double.NegativeInfinity).unsqueeze(1);
        var selfBias = PositionBias(decRelBias, pos, keyLength, bidirectional: false).to(DType) + causal;
        var slotT = tensor(slots.ToArray(), ScalarType.Int64, Device);
        var hidden = Ops.Embed(tensor(Padded(tokens, width), ScalarType.Int64, Device).view(rows, width), shared.Value);
        for (int i = 0; i < decoder.Length; i++)
        {
            var block = decoder[i];
            var x = Ops.RmsNorm(hidden, block.Self.Norm.Value, Config.NormEps);
            var q = Heads(x, block.Self.Q);
            var kNew = F.linear(x, block.Self.K.Value).view(rows, width, Config.NumHeads, Config.HeadDim);
            var vNew = F.linear(x, block.Self.V.Value).view(rows, width, Config.NumHeads, Config.HeadDim);
            cache.Write(i, kNew, vNew, slotT, ctx.ValidIndex);
            hidden = hidden + Merge(Attend(q, cache.KeysView(i, keyLength), cache.ValuesView(i, keyLength), selfBias), block.Self.O);
            var xc = Ops.RmsNorm(hidden, block.Cross!.Norm.Value, Config.NormEps);
            hidden = hidden + Merge(Attend(Heads(xc, block.Cross.Q), crossKeys![i], crossValues![i], encoderMask!), block.Cross.O);
            hidden = FeedForward(block, hidden, ctx);
        }
        for (int r = 0; r < rows; r++) cache.Lengths[r] += tokens[r].Length;
        var output = Ops.RmsNorm(hidden, decFinalNorm.Value, Config.NormEps);
        if (!allPositions)
        {
            var last = Enumerable.Range(0, rows).Select(r => (long)(r * width + Math.Max(tokens[r].Length - 1, 0))).ToArray();
            output = output.view(rows * width, Config.HiddenSize).index_select(0, tensor(last, ScalarType.Int64, Device));
        }
        if (Config.TieWordEmbeddings) output = Ops.Mul(output, Math.Pow(Config.HiddenSize, -0.5));
        var logits = F.linear(output, lmHead.Value).to(ScalarType.Float32);
        ctx.Publish(Observers);
        return logits.MoveToOuterDisposeScope();
    }

    void DisposeEncoderState()
    {
        encoderOut?.Dispose(); encoderMask?.Dispose();
        foreach (var t in crossKeys ?? []) t.Dispose();
        foreach (var t in crossValues ?? []) t.Dispose();
        encoderOut = encoderMask = null;
        crossKeys = crossValues = null;
    }

    private protected override void ReleaseTensors() => DisposeEncoderState();
}
