using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

#pragma warning disable IDE1006

namespace ExpertFlow.Prediction;

/// <summary>
/// Routing Path Predictor (ExpertFlow's RPP): a small T5-style encoder-decoder over token ids. The encoder
/// reads the prompt ids (bidirectional); the decoder reads the ids of the tokens being processed (causal
/// self-attention, cross-attention to the prompt) and one light head per MoE layer scores every expert.
/// Output: logits [B, S, L, E]; sigmoid gives the probability that the expert is among the token's top-k.
/// Pre-norm RMSNorm blocks as in T5; learned absolute positions instead of T5's relative bias (simpler, and
/// decoder tokens carry their absolute position in the sequence).
/// </summary>
public sealed class RoutingPathPredictor : Module
{
    readonly PredictorConfig config;
    readonly Embedding shared;
    readonly Embedding encoder_positions, decoder_positions;
    readonly ModuleList<Block> encoder, decoder;
    readonly LayerNorm encoder_norm, decoder_norm;
    readonly ModuleList<Linear> heads;

    public RoutingPathPredictor(PredictorConfig config) : base("RoutingPathPredictor")
    {
        this.config = config;
        int d = config.ModelDim;
        shared = Embedding(config.VocabSize, d);
        encoder_positions = Embedding(config.MaxPositions, d);
        decoder_positions = Embedding(config.MaxPositions, d);
        encoder = new ModuleList<Block>(Enumerable.Range(0, config.EncoderLayers).Select(_ => new Block(config, cross: false)).ToArray());
        decoder = new ModuleList<Block>(Enumerable.Range(0, config.DecoderLayers).Select(_ => new Block(config, cross: true)).ToArray());
        encoder_norm = LayerNorm(d);
        decoder_norm = LayerNorm(d);
        heads = new ModuleList<Linear>(Enumerable.Range(0, config.NumLayers).Select(_ => Linear(d, config.NumExperts)).ToArray());
        RegisterComponents();
    }

    public PredictorConfig Config => config;

    /// <summary>
    /// Scores [B, S, L, E]. <paramref name="promptIds"/> [B, P] with <paramref name="promptLengths"/> [B] (rest is
    /// padding); <paramref name="tokenIds"/> [B, S] are the tokens being processed, the first at absolute
    /// position <paramref name="tokenStart"/> [B].
    /// </summary>
    public Tensor Forward(Tensor promptIds, Tensor promptLengths, Tensor tokenIds, Tensor tokenStart)
    {
        long b = promptIds.shape[0], p = promptIds.shape[1], s = tokenIds.shape[1];
        var device = promptIds.device;
        var memory = Encode(promptIds, promptLengths);
        var keyValid = PromptMask(promptLengths, p);
        var tokenPositions = tokenStart.unsqueeze(1) + arange(s, device: device).unsqueeze(0);
        var causal = ones(s, s, dtype: ScalarType.Bool, device: device).tril().unsqueeze(0).unsqueeze(0).expand(b, 1, s, s);
        var crossMask = Additive(keyValid.unsqueeze(1).unsqueeze(1).expand(b, 1, s, p));
        var y = Embed(tokenIds, tokenPositions);
        foreach (var block in decoder) y = block.Forward(y, Additive(causal), memory, crossMask);
        y = decoder_norm.forward(y);
        return stack(heads.Select(h => h.forward(y)).ToArray(), dim: 2);                      // [B, S, L, E]
    }

    /// <summary>The encoder's memory [B, P, dim] of the prompts (padding beyond <paramref name="promptLengths"/> masked).</summary>
    public Tensor Encode(Tensor promptIds, Tensor promptLengths)
    {
        long b = promptIds.shape[0], p = promptIds.shape[1];
        var promptPositions = arange(p, device: promptIds.device).unsqueeze(0).expand(b, p);
        var keyValid = PromptMask(promptLengths, p);
        var encoderMask = Additive(keyValid.unsqueeze(1).unsqueeze(1).expand(b, 1, p, p));
        var x = shared.forward(promptIds) + encoder_positions.forward(promptPositions.clamp_max(config.MaxPositions - 1));
        foreach (var block in encoder) x = block.Forward(x, encoderMask, null, null);
        return encoder_norm.forward(x);
    }

    /// <summary>Each decoder block's cross-attention keys and values of an encoder memory: [B, P, 2 dim] per block.</summary>
    public Tensor[] CrossKeysValues(Tensor memory) => decoder.Select(block => block.CrossKeysValues(memory)).ToArray();

    /// <summary>
    /// The decoder run incrementally: <paramref name="tokenIds"/> [B, S] at absolute positions <paramref name="positions"/>
    /// [B, S] attend to themselves (causally) and to the first <paramref name="pastLengths"/>[b] entries of
    /// <paramref name="past"/> (per block, the self-attention keys and values [B, T, 2 dim] of the tokens before them),
    /// and to the first <paramref name="promptLengths"/>[b] entries of <paramref name="cross"/> (per block,
    /// <see cref="CrossKeysValues"/>). Returns the scores [B, S, L, E] and, per block, the new tokens' keys and values
    /// [B, S, 2 dim] for the caller's cache. With empty past keys this is <see cref="Forward"/>'s decoder.
    /// </summary>
    public (Tensor Scores, Tensor[] KeysValues) DecodeCached(Tensor tokenIds, Tensor positions, Tensor[] past, Tensor pastLengths, Tensor[] cross, Tensor promptLengths)
    {
        long b = tokenIds.shape[0], s = tokenIds.shape[1], t = past[0].shape[1], p = cross[0].shape[1];
        var device = tokenIds.device;
        // key j < T: a cached token, valid below its row's length; key T + i: the new token i, visible from new tokens >= i
        var pastValid = arange(t, device: device).unsqueeze(0).lt(pastLengths.unsqueeze(1)).unsqueeze(1).expand(b, s, t);
        var newValid = ones(s, s, dtype: ScalarType.Bool, device: device).tril().unsqueeze(0).expand(b, s, s);
        var selfMask = Additive(cat([pastValid, newValid], 2).unsqueeze(1));                  // [B, 1, S, T+S]
        var crossMask = Additive(PromptMask(promptLengths, p).unsqueeze(1).unsqueeze(1).expand(b, 1, s, p));
        var y = Embed(tokenIds, positions);
        var fresh = new Tensor[decoder.Count];
        for (int i = 0; i < decoder.Count; i++) (y, fresh[i]) = decoder[i].ForwardCached(y, past[i], selfMask, cross[i], crossMask);
        y = decoder_norm.forward(y);
        // the layers' heads as one matrix product
        var weight = cat(heads.Select(h => h.weight!).ToArray(), 0);
        var bias = cat(heads.Select(h => h.bias!).ToArray(), 0);
        return (functional.linear(y, weight, bias).view(b, s, config.NumLayers, config.NumExperts), fresh);
    }

    Tensor Embed(Tensor tokenIds, Tensor positions) =>
        shared.forward(tokenIds) + decoder_positions.forward(positions.clamp_max(config.MaxPositions - 1));

    static Tensor PromptMask(Tensor promptLengths, long p) =>
        arange(p, device: promptLengths.device).unsqueeze(0).lt(promptLengths.unsqueeze(1));   // [B, P]

    static Tensor Additive(Tensor allowed) => zeros(allowed.shape, device: allowed.device).masked_fill(allowed.logical_not(), -1e9);

    sealed class Block : Module
    {
        readonly LayerNorm self_norm, ff_norm;
        readonly LayerNorm? cross_norm;
        readonly Linear self_qkv, self_out, ff_in, ff_out;
        readonly Linear? cross_q, cross_kv, cross_out;
        readonly int heads, dim;

        public Block(PredictorConfig c, bool cross) : base("block")
        {
            heads = c.Heads; dim = c.ModelDim;
            self_norm = LayerNorm(dim);
            self_qkv = Linear(dim, 3 * dim);
            self_out = Linear(dim, dim);
            if (cross)
            {
                cross_norm = LayerNorm(dim);
                cross_q = Linear(dim, dim);
                cross_kv = Linear(dim, 2 * dim);
                cross_out = Linear(dim, dim);
            }
            ff_norm = LayerNorm(dim);
            ff_in = Linear(dim, c.FeedForwardDim);
            ff_out = Linear(c.FeedForwardDim, dim);
            RegisterComponents();
        }

        public Tensor Forward(Tensor x, Tensor selfMask, Tensor? memory, Tensor? crossMask)
        {
            var qkv = self_qkv.forward(self_norm.forward(x)).chunk(3, dim: -1);
            x = x + self_out.forward(Attend(qkv[0], qkv[1], qkv[2], selfMask));
            if (memory is not null) x = CrossAttend(x, CrossKeysValues(memory), crossMask!);
            return FeedForward(x);
        }

        /// <summary><see cref="Forward"/> with the self-attention keys and values of earlier tokens given ([B, T, 2 dim]); also returns the new ones.</summary>
        public (Tensor Output, Tensor KeysValues) ForwardCached(Tensor x, Tensor past, Tensor selfMask, Tensor crossKeysValues, Tensor crossMask)
        {
            var projected = self_qkv.forward(self_norm.forward(x));
            var q = projected.narrow(-1, 0, dim);
            var fresh = projected.narrow(-1, dim, 2 * dim);
            var kv = cat([past, fresh], 1).chunk(2, dim: -1);
            x = x + self_out.forward(Attend(q, kv[0], kv[1], selfMask));
            return (FeedForward(CrossAttend(x, crossKeysValues, crossMask)), fresh);
        }

        public Tensor CrossKeysValues(Tensor memory) => cross_kv!.forward(memory);

        Tensor CrossAttend(Tensor x, Tensor crossKeysValues, Tensor crossMask)
        {
            var kv = crossKeysValues.chunk(2, dim: -1);
            return x + cross_out!.forward(Attend(cross_q!.forward(cross_norm!.forward(x)), kv[0], kv[1], crossMask));
        }

        Tensor FeedForward(Tensor x) => x + ff_out.forward(functional.gelu(ff_in.forward(ff_norm.forward(x))));

        Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor mask)
        {
            long b = q.shape[0], sq = q.shape[1], sk = k.shape[1];
            int hd = dim / heads;
            Tensor Split(Tensor t, long len) => t.view(b, len, heads, hd).transpose(1, 2);
            var o = functional.scaled_dot_product_attention(Split(q, sq), Split(k, sk), Split(v, sk), attn_mask: mask);
            return o.transpose(1, 2).reshape(b, sq, dim);
        }
    }
}
