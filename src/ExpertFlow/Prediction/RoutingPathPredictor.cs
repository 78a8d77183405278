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
        var promptPositions = arange(p, device: device).unsqueeze(0).expand(b, p);
        var keyValid = promptPositions.lt(promptLengths.unsqueeze(1));                        // [B, P]
        var encoderMask = Additive(keyValid.unsqueeze(1).unsqueeze(1).expand(b, 1, p, p));
        var x = shared.forward(promptIds) + encoder_positions.forward(promptPositions.clamp_max(config.MaxPositions - 1));
        foreach (var block in encoder) x = block.Forward(x, encoderMask, null, null);
        var memory = encoder_norm.forward(x);

        var tokenPositions = (tokenStart.unsqueeze(1) + arange(s, device: device).unsqueeze(0)).clamp_max(config.MaxPositions - 1);
        var causal = ones(s, s, dtype: ScalarType.Bool, device: device).tril().unsqueeze(0).unsqueeze(0).expand(b, 1, s, s);
        var crossMask = Additive(keyValid.unsqueeze(1).unsqueeze(1).expand(b, 1, s, p));
        var y = shared.forward(tokenIds) + decoder_positions.forward(tokenPositions);
        foreach (var block in decoder) y = block.Forward(y, Additive(causal), memory, crossMask);
        y = decoder_norm.forward(y);
        return stack(heads.Select(h => h.forward(y)).ToArray(), dim: 2);                      // [B, S, L, E]
    }

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
            if (memory is not null)
            {
                var kv = cross_kv!.forward(memory).chunk(2, dim: -1);
                x = x + cross_out!.forward(Attend(cross_q!.forward(cross_norm!.forward(x)), kv[0], kv[1], crossMask!));
            }
            return x + ff_out.forward(functional.gelu(ff_in.forward(ff_norm.forward(x))));
        }

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
