using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

#pragma warning disable IDE1006 // field names are the Hugging Face checkpoint keys

namespace ExpertFlow.Demo;

/// <summary>
/// A trainable Mixtral decoder (RMSNorm, RoPE, grouped-query attention, top-k softmax router with
/// renormalised weights, SwiGLU experts), written for training the demo model. Its parameter names are the
/// Hugging Face Mixtral checkpoint keys, so its state dict is a loadable Mixtral checkpoint.
/// </summary>
public sealed class DemoMixtral : Module<Tensor, Tensor>
{
    readonly DemoMoeConfig config;
    readonly MixtralBody model;
    readonly Linear lm_head;

    public DemoMixtral(DemoMoeConfig config) : base("DemoMixtral")
    {
        this.config = config;
        model = new MixtralBody(config);
        lm_head = Linear(config.HiddenSize, config.VocabSize, hasBias: false);
        RegisterComponents();
    }

    public DemoMoeConfig Config => config;

    /// <summary>The device the weights live on (inputs go there).</summary>
    public Device Device => parameters().First().device;

    /// <summary>Logits [B, S, V] for token ids [B, S] (causal, positions 0..S-1).</summary>
    public override Tensor forward(Tensor inputIds) => Forward(inputIds, capture: null, out _);

    /// <summary>Forward that also returns the load-balancing loss and optionally records routing.</summary>
    public Tensor Forward(Tensor inputIds, List<(Tensor Ids, Tensor Logits)>? capture, out Tensor auxLoss)
    {
        var hidden = model.Forward(inputIds, capture, out auxLoss);
        return lm_head.forward(hidden);
    }

    sealed class MixtralBody : Module
    {
        readonly Embedding embed_tokens;
        readonly ModuleList<DecoderLayer> layers;
        readonly RmsNorm norm;
        readonly DemoMoeConfig config;

        public MixtralBody(DemoMoeConfig config) : base("model")
        {
            this.config = config;
            embed_tokens = Embedding(config.VocabSize, config.HiddenSize);
            layers = new ModuleList<DecoderLayer>(Enumerable.Range(0, config.NumLayers).Select(_ => new DecoderLayer(config)).ToArray());
            norm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
            RegisterComponents();
        }

        public Tensor Forward(Tensor inputIds, List<(Tensor, Tensor)>? capture, out Tensor auxLoss)
        {
            long seq = inputIds.shape[1];
            var (cos, sin) = Rope.Tables(seq, config.HeadDim, config.RopeTheta, inputIds.device);
            var x = embed_tokens.forward(inputIds);
            auxLoss = zeros(1, device: inputIds.device);
            foreach (var layer in layers)
            {
                x = layer.Forward(x, cos, sin, capture, out var layerAux);
                auxLoss = auxLoss + layerAux;
            }
            auxLoss = auxLoss / config.NumLayers;
            return norm.forward(x);
        }
    }

    sealed class DecoderLayer : Module
    {
        readonly Attention self_attn;
        readonly SparseMoe block_sparse_moe;
        readonly RmsNorm input_layernorm;
        readonly RmsNorm post_attention_layernorm;

        public DecoderLayer(DemoMoeConfig config) : base("layer")
        {
            self_attn = new Attention(config);
            block_sparse_moe = new SparseMoe(config);
            input_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
            post_attention_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
            RegisterComponents();
        }

        public Tensor Forward(Tensor x, Tensor cos, Tensor sin, List<(Tensor, Tensor)>? capture, out Tensor auxLoss)
        {
            x = x + self_attn.Forward(input_layernorm.forward(x), cos, sin);
            return x + block_sparse_moe.Forward(post_attention_layernorm.forward(x), capture, out auxLoss);
        }
    }

    sealed class Attention : Module
    {
        readonly Linear q_proj, k_proj, v_proj, o_proj;
        readonly int heads, kvHeads, headDim;

        public Attention(DemoMoeConfig c) : base("self_attn")
        {
            heads = c.NumHeads; kvHeads = c.NumKeyValueHeads; headDim = c.HeadDim;
            q_proj = Linear(c.HiddenSize, heads * headDim, hasBias: false);
            k_proj = Linear(c.HiddenSize, kvHeads * headDim, hasBias: false);
            v_proj = Linear(c.HiddenSize, kvHeads * headDim, hasBias: false);
            o_proj = Linear(heads * headDim, c.HiddenSize, hasBias: false);
            RegisterComponents();
        }

        public Tensor Forward(Tensor x, Tensor cos, Tensor sin)
        {
            long b = x.shape[0], s = x.shape[1];
            var q = q_proj.forward(x).view(b, s, heads, headDim).transpose(1, 2);
            var k = k_proj.forward(x).view(b, s, kvHeads, headDim).transpose(1, 2);
            var v = v_proj.forward(x).view(b, s, kvHeads, headDim).transpose(1, 2);
            q = Rope.Apply(q, cos, sin);
            k = Rope.Apply(k, cos, sin);
            int groups = heads / kvHeads;
            if (groups > 1)
            {
                k = k.repeat_interleave(groups, dim: 1);
                v = v.repeat_interleave(groups, dim: 1);
            }
            var attended = functional.scaled_dot_product_attention(q, k, v, is_casual: true);
            return o_proj.forward(attended.transpose(1, 2).reshape(b, s, heads * headDim));
        }
    }

    sealed class SparseMoe : Module
    {
        readonly Linear gate;
        readonly ModuleList<Expert> experts;
        readonly int numExperts, topK;

        public SparseMoe(DemoMoeConfig c) : base("block_sparse_moe")
        {
            numExperts = c.NumExperts; topK = c.TopK;
            gate = Linear(c.HiddenSize, c.NumExperts, hasBias: false);
            experts = new ModuleList<Expert>(Enumerable.Range(0, c.NumExperts).Select(_ => new Expert(c)).ToArray());
            RegisterComponents();
        }

        public Tensor Forward(Tensor x, List<(Tensor, Tensor)>? capture, out Tensor auxLoss)
        {
            var shape = x.shape;
            var flat = x.reshape(-1, shape[^1]);
            var routerLogits = gate.forward(flat);
            var probs = functional.softmax(routerLogits, dim: 1);
            var (topWeights, topIds) = probs.topk(topK, dim: 1);
            topWeights = topWeights / topWeights.sum(dim: 1, keepdim: true);
            capture?.Add((topIds.detach(), routerLogits.detach()));

            // Mixtral's load-balancing loss: E * sum_e (share of routed slots to e) * (mean router probability of e).
            var slots = functional.one_hot(topIds, numExperts).to(ScalarType.Float32); // [T, k, E]
            var tokensPerExpert = slots.mean(dimensions: [0]);                       // [k, E]
            var probPerExpert = probs.mean(dimensions: [0]);                          // [E]
            auxLoss = (tokensPerExpert * probPerExpert.unsqueeze(0)).sum() * numExperts;

            var output = zeros_like(flat);
            for (int e = 0; e < numExperts; e++)
            {
                var hit = topIds.eq(e);                        // [T, k]
                var rows = hit.any(dim: 1).nonzero().squeeze(1);
                if (rows.shape[0] == 0) continue;
                var weight = (topWeights * hit.to(topWeights.dtype)).sum(dim: 1).index_select(0, rows).unsqueeze(1);
                var y = experts[e].forward(flat.index_select(0, rows)) * weight;
                output = output.index_add(0, rows, y, 1);
            }
            return output.reshape(shape);
        }
    }

    sealed class Expert : Module<Tensor, Tensor>
    {
        readonly Linear w1, w2, w3;

        public Expert(DemoMoeConfig c) : base("expert")
        {
            w1 = Linear(c.HiddenSize, c.IntermediateSize, hasBias: false);
            w2 = Linear(c.IntermediateSize, c.HiddenSize, hasBias: false);
            w3 = Linear(c.HiddenSize, c.IntermediateSize, hasBias: false);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => w2.forward(functional.silu(w1.forward(x)) * w3.forward(x));
    }

    sealed class RmsNorm : Module<Tensor, Tensor>
    {
        readonly Parameter weight;
        readonly double eps;

        public RmsNorm(int size, double eps) : base("norm")
        {
            this.eps = eps;
            weight = Parameter(ones(size));
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            var variance = x.pow(2).mean([-1L], keepdim: true);
            return weight * (x * rsqrt(variance + eps));
        }
    }

    /// <summary>Rotary position embedding as Hugging Face's rotate_half convention.</summary>
    static class Rope
    {
        public static (Tensor Cos, Tensor Sin) Tables(long seq, int headDim, double theta, Device device)
        {
            var inv = 1.0 / pow(theta, arange(0, headDim, 2, dtype: ScalarType.Float64) / headDim);
            var freqs = outer(arange(seq, dtype: ScalarType.Float64), inv);
            var emb = cat([freqs, freqs], dim: -1);
            return (emb.cos().to(ScalarType.Float32).to(device), emb.sin().to(ScalarType.Float32).to(device));
        }

        public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
        {
            long half = x.shape[^1] / 2;
            var rotated = cat([-x.narrow(-1, half, half), x.narrow(-1, 0, half)], dim: -1);
            return x * cos + rotated * sin;
        }
    }
}
