using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ExpertFlow.Model;

/// <summary>
/// Multi-head latent attention (DeepSeek-V2/V3). The KV cache holds, per position, the compressed keys/values (kv_lora_rank
/// wide, after kv_a_layernorm) as its "keys" and the rotary key shared by all heads (qk_rope_head_dim) as its "values":
/// (kv_lora_rank + qk_rope_head_dim) numbers per position and layer instead of heads x (qk_head_dim + v_head_dim). Each
/// step expands the cached positions through kv_b_proj into per-head keys (nope part, then the rotary part) and values,
/// as transformers computes them. Interleaved rotary pairs (V2, V3 with rope_interleave) are reordered into halves first,
/// the same for queries and keys, which leaves every dot product as transformers'.
/// </summary>
internal sealed class LatentAttention : IDecoderAttention
{
    const double LoraNormEps = 1e-6; // q_a_layernorm and kv_a_layernorm use the RMSNorm default, not rms_norm_eps

    readonly MoeConfig c;
    readonly int layer;
    readonly Param? q, qa, qaNorm, qb;
    readonly Param kva, kvaNorm, kvb, o;
    readonly Param? qab, kvab, ob;
    Tensor? oT;

    public LatentAttention(ParamSet ps, IWeightSource ck, MoeConfig c, int layer, string prefix)
    {
        this.c = c;
        this.layer = layer;
        long h = c.HiddenSize, nh = c.NumHeads, qk = c.QkNopeHeadDim + c.HeadDim;
        if (c.QLoraRank > 0)
        {
            qa = ps.Declare($"{prefix}.q_a_proj.weight", c.QLoraRank, h);
            qab = c.AttentionBias ? ps.Declare($"{prefix}.q_a_proj.bias", c.QLoraRank) : null;
            qaNorm = ps.Declare($"{prefix}.q_a_layernorm.weight", c.QLoraRank);
            qb = ps.Declare($"{prefix}.q_b_proj.weight", nh * qk, c.QLoraRank);
        }
        else q = ps.Declare($"{prefix}.q_proj.weight", nh * qk, h);
        kva = ps.Declare($"{prefix}.kv_a_proj_with_mqa.weight", c.KvLoraRank + c.HeadDim, h);
        kvab = c.AttentionBias ? ps.Declare($"{prefix}.kv_a_proj_with_mqa.bias", c.KvLoraRank + c.HeadDim) : null;
        kvaNorm = ps.Declare($"{prefix}.kv_a_layernorm.weight", c.KvLoraRank);
        kvb = ps.Declare($"{prefix}.kv_b_proj.weight", nh * (c.QkNopeHeadDim + c.VHeadDim), c.KvLoraRank);
        o = ps.Declare($"{prefix}.o_proj.weight", h, nh * c.VHeadDim);
        ob = c.AttentionBias ? ps.Optional(ck, $"{prefix}.o_proj.bias", h) : null;
    }

    public void Prepare() => oT = o.Value.t().DetachFromDisposeScope();

    public void Release() => oT?.Dispose();

    /// <summary>Interleaved pairs (x0, x1), (x2, x3), ... reordered as [x0, x2, ..., x1, x3, ...] (rotate-half layout).</summary>
    static Tensor Deinterleave(Tensor x)
    {
        long d = x.shape[^1];
        long[] pairs = [.. x.shape[..^1], d / 2, 2];
        return x.reshape(pairs).transpose(-1, -2).reshape(x.shape);
    }

    public Tensor Forward(Tensor x, Tensor residual, DecoderStep s, KvCache cache)
    {
        long b = x.shape[0], t = x.shape[1];
        int nh = c.NumHeads, nope = c.QkNopeHeadDim, rope = c.HeadDim, vd = c.VHeadDim, lora = c.KvLoraRank;
        var query = qa is null ? F.linear(x, q!.Value) : F.linear(Ops.RmsNorm(F.linear(x, qa.Value, qab?.Value), qaNorm!.Value, LoraNormEps), qb!.Value);
        query = query.view(b, t, nh, nope + rope);
        var qPe = query.narrow(-1, nope, rope);
        var compressed = F.linear(x, kva.Value, kvab?.Value); // [B, T, lora + rope]
        var latent = Ops.RmsNorm(compressed.narrow(-1, 0, lora), kvaNorm.Value, LoraNormEps).view(b, t, 1, lora);
        var kPe = compressed.narrow(-1, lora, rope).view(b, t, 1, rope);
        if (c.RopeInterleave) { qPe = Deinterleave(qPe); kPe = Deinterleave(kPe); }
        qPe = Ops.RopeSigned(qPe, s.Cos, s.SignedSin);
        kPe = Ops.RopeSigned(kPe, s.Cos, s.SignedSin);
        cache.Write(layer, latent, kPe, s.Slots, s.ValidIndex);

        long len = s.KeyLength;
        var cachedLatent = cache.KeysView(layer, len).squeeze(1);   // [B, S, lora]
        var cachedPe = cache.ValuesView(layer, len);                 // [B, 1, S, rope]
        var kv = F.linear(cachedLatent, kvb.Value).view(b, len, nh, nope + vd).transpose(1, 2); // [B, nh, S, nope + v]
        var keys = cat([kv.narrow(-1, 0, nope), cachedPe.expand(b, nh, len, rope)], -1);
        var values = kv.narrow(-1, nope, vd);
        var q4 = cat([query.narrow(-1, 0, nope), qPe], -1).transpose(1, 2); // [B, nh, T, qk]
        double factor = c.LatentSoftmaxScale * Math.Sqrt(nope + rope); // SDPA divides by sqrt(qk) itself
        if (factor != 1) q4 = Ops.Mul(q4, factor);
        var attn = F.scaled_dot_product_attention(q4, keys, values, s.Mask); // [B, nh, T, v]
        var baseline = residual.view(b * t, c.HiddenSize);
        if (ob != null) baseline = baseline + ob.Value;
        return addmm(baseline, attn.transpose(1, 2).reshape(b * t, nh * vd), oT!, 1, 1).view(b, t, c.HiddenSize);
    }
}
