using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ExpertFlow.Model;

/// <summary>
/// Causal self-attention with RoPE, grouped-query heads, optional q/k norms (Qwen3-MoE per head, OLMoE over the
/// projection), optional clip_qkv, and the preallocated KV cache. q, k and v are one fused matmul.
/// </summary>
internal sealed class DecoderAttention : IDecoderAttention
{
    readonly MoeConfig c;
    readonly int layer;
    readonly Param q, k, v, o;
    readonly Param? qb, kb, vb, ob, qNorm, kNorm, sinks;
    readonly bool sliding;
    Tensor? qkv, qkvBias, oT;

    public DecoderAttention(ParamSet ps, IWeightSource ck, MoeConfig c, int layer, string prefix)
    {
        this.c = c;
        this.layer = layer;
        long h = c.HiddenSize, qd = c.NumHeads * c.HeadDim, kvd = c.NumKvHeads * c.HeadDim;
        q = ps.Declare($"{prefix}.q_proj.weight", qd, h);
        k = ps.Declare($"{prefix}.k_proj.weight", kvd, h);
        v = ps.Declare($"{prefix}.v_proj.weight", kvd, h);
        o = ps.Declare($"{prefix}.o_proj.weight", h, qd);
        if (c.AttentionBias || ck.Contains($"{prefix}.q_proj.bias"))
        {
            qb = ps.Declare($"{prefix}.q_proj.bias", qd);
            kb = ps.Declare($"{prefix}.k_proj.bias", kvd);
            vb = ps.Declare($"{prefix}.v_proj.bias", kvd);
            ob = ps.Optional(ck, $"{prefix}.o_proj.bias", h);
            ps.Fuse(qb, kb, vb);
        }
        ps.Fuse(q, k, v);
        if (c.AttentionSinks) sinks = ps.Declare($"{prefix}.sinks", c.NumHeads);
        sliding = layer < c.SlidingLayers.Length && c.SlidingLayers[layer];
        if (c.QkNorm == QkNormKind.PerHead)
        {
            qNorm = ps.Declare($"{prefix}.q_norm.weight", c.HeadDim);
            kNorm = ps.Declare($"{prefix}.k_norm.weight", c.HeadDim);
        }
        else if (c.QkNorm == QkNormKind.Full)
        {
            qNorm = ps.Declare($"{prefix}.q_norm.weight", qd);
            kNorm = ps.Declare($"{prefix}.k_norm.weight", kvd);
        }
    }

    public void Prepare()
    {
        oT = o.Value.t().DetachFromDisposeScope(); // a view, made once
        qkv = q.Value; // q, k and v were loaded into one fused tensor (ParamSet.Fuse)
        qkvBias = qb?.Value;
    }

    /// <summary>Releases the views made in <see cref="Prepare"/> (a view keeps its weight's device memory alive).</summary>
    public void Release() => oT?.Dispose();

    /// <summary>x: [B, T, H] normed hidden states; returns residual + attention output [B, T, H] (o_proj fused with the sum).</summary>
    public Tensor Forward(Tensor x, Tensor residual, DecoderStep s, KvCache cache)
    {
        long b = x.shape[0], t = x.shape[1];
        int nh = c.NumHeads, nkv = c.NumKvHeads, hd = c.HeadDim;
        var proj = F.linear(x, qkv!, qkvBias);
        Tensor qs, ks, vs;
        if (c.QkNorm == QkNormKind.None && c.ClipQkv == null)
        {
            var heads = proj.view(b, t, nh + 2 * nkv, hd);
            var qk = Ops.RopeSigned(heads.narrow(2, 0, nh + nkv), s.Cos, s.SignedSin);
            qs = qk.narrow(2, 0, nh);
            ks = qk.narrow(2, nh, nkv);
            vs = heads.narrow(2, nh + nkv, nkv);
        }
        else
        {
            qs = proj.narrow(-1, 0, nh * hd);
            ks = proj.narrow(-1, nh * hd, nkv * hd);
            vs = proj.narrow(-1, (nh + nkv) * hd, nkv * hd);
            if (c.QkNorm == QkNormKind.Full)
            {
                qs = Ops.RmsNorm(qs, qNorm!.Value, c.NormEps);
                ks = Ops.RmsNorm(ks, kNorm!.Value, c.NormEps);
            }
            if (c.ClipQkv is double clip)
            {
                qs = qs.clamp(-clip, clip);
                ks = ks.clamp(-clip, clip);
                vs = vs.clamp(-clip, clip);
            }
            qs = qs.view(b, t, nh, hd);
            ks = ks.view(b, t, nkv, hd);
            vs = vs.view(b, t, nkv, hd);
            if (c.QkNorm == QkNormKind.PerHead)
            {
                qs = Ops.RmsNorm(qs, qNorm!.Value, c.NormEps);
                ks = Ops.RmsNorm(ks, kNorm!.Value, c.NormEps);
            }
            qs = Ops.RopeSigned(qs, s.Cos, s.SignedSin);
            ks = Ops.RopeSigned(ks, s.Cos, s.SignedSin);
        }
        // write this step's keys/values at each row's own positions, then attend over the used extent
        cache.Write(layer, ks, vs, s.Slots, s.ValidIndex);
        var keys = cache.KeysView(layer, s.KeyLength);
        var values = cache.ValuesView(layer, s.KeyLength);
        var query = qs.transpose(1, 2); // [B, nh, T, hd]
        // a softmax scale other than 1/sqrt(hd) (GraniteMoE's attention_multiplier) goes into the query: SDPA divides by sqrt(hd)
        if (c.AttentionMultiplier is double am && am * Math.Sqrt(hd) != 1) query = Ops.Mul(query, am * Math.Sqrt(hd));
        Tensor attn;
        int g = nh / nkv;
        var (mask, groupedMask) = sliding ? (s.SlidingMask, s.SlidingGroupedMask) : (s.Mask, s.GroupedMask);
        if (sinks is not null) attn = WithSinks(query, keys, values, groupedMask, b, t);
        else if (g == 1) attn = F.scaled_dot_product_attention(query, keys, values, mask);
        else
        {
            // grouped-query attention without copying the cache: the g query heads of a kv head become g*T query rows
            var grouped = query.reshape(b, nkv, g * t, hd);
            // reshape, not view: CUDA attention kernels may return a strided output
            attn = F.scaled_dot_product_attention(grouped, keys, values, groupedMask).reshape(b, nh, t, hd);
        }
        var baseline = residual.view(b * t, c.HiddenSize);
        double m = c.ResidualMultiplier; // GraniteMoE: residual + o_proj(attn) * residual_multiplier
        if (ob != null) baseline = baseline + (m == 1 ? ob.Value : Ops.Mul(ob.Value, m));
        return addmm(baseline, attn.transpose(1, 2).reshape(b * t, nh * hd), oT!, 1, (float)m).view(b, t, c.HiddenSize);
    }

    /// <summary>
    /// Attention whose softmax also runs over a learned per-head logit, the sink, which takes no value (gpt-oss): the
    /// weights of the keys sum to less than one. Written out (scores, softmax in fp32, product with the values), as
    /// scaled_dot_product_attention has no such term; query heads grouped per kv head as in <see cref="Forward"/>.
    /// query [B, nh, T, hd], keys/values [B, nkv, S, hd], mask [B, 1, g*T, S] or null; returns [B, nh, T, hd].
    /// </summary>
    Tensor WithSinks(Tensor query, Tensor keys, Tensor values, Tensor? groupedMask, long b, long t)
    {
        int nh = c.NumHeads, nkv = c.NumKvHeads, hd = c.HeadDim, g = nh / nkv;
        var grouped = query.reshape(b, nkv, g * t, hd);
        var scores = Ops.Mul(matmul(grouped, keys.transpose(2, 3)), 1 / Math.Sqrt(hd)); // [B, nkv, g*T, S]
        if (groupedMask is not null) scores = scores + groupedMask;
        var sink = sinks!.Value.to(scores.dtype).view(1, nkv, g, 1, 1).expand(b, nkv, g, t, 1).reshape(b, nkv, g * t, 1);
        long keyCount = scores.shape[3];
        var probs = cat([scores, sink], -1).softmax(-1, ScalarType.Float32).narrow(-1, 0, keyCount).to(values.dtype);
        return matmul(probs, values).reshape(b, nh, t, hd);
    }
}
