namespace ExpertFlow.Model;

/// <summary>The model families the runtime implements (Hugging Face <c>model_type</c> in brackets).</summary>
public enum ModelFamily
{
    /// <summary>Mixtral (<c>mixtral</c>): softmax, top-k, renormalise; experts w1/w3/w2.</summary>
    Mixtral,
    /// <summary>Qwen1.5-MoE (<c>qwen2_moe</c>): shared expert with a sigmoid gate, optional top-k renormalisation, q/k/v biases.</summary>
    Qwen2Moe,
    /// <summary>Qwen3-MoE (<c>qwen3_moe</c>): per-head q/k RMSNorm, no shared expert.</summary>
    Qwen3Moe,
    /// <summary>OLMoE (<c>olmoe</c>): q/k RMSNorm over the whole projection, optional clip_qkv.</summary>
    Olmoe,
    /// <summary>DeepSeek-MoE v1 (<c>deepseek</c>): shared experts without gate, first_k_dense_replace dense layers.</summary>
    Deepseek,
    /// <summary>
    /// GraniteMoE (<c>granitemoe</c>): softmax over the top-k router logits; experts stored stacked per layer
    /// (<c>input_linear</c> [E, 2I, H], <c>output_linear</c> [E, H, I]); embedding, attention, residual and logits multipliers.
    /// </summary>
    GraniteMoe,
    /// <summary>DeepSeek-V2/V2-Lite (<c>deepseek_v2</c>): latent attention, softmax scores, greedy or group-limited top-k, routed scaling, shared experts.</summary>
    DeepseekV2,
    /// <summary>DeepSeek-V3 (<c>deepseek_v3</c>): latent attention, sigmoid scores with a correction bias, grouped top-k, normalised and scaled weights.</summary>
    DeepseekV3,
    /// <summary>Switch Transformers (<c>switch_transformers</c>): T5 encoder-decoder with top-1 experts.</summary>
    SwitchTransformers,
    /// <summary>
    /// gpt-oss (<c>gpt_oss</c>): attention with q/k/v/o biases and per-head learned sinks, sliding-window and full layers
    /// as <c>layer_types</c> says, YaRN RoPE; router with a bias (softmax over the top-k logits); experts stored stacked
    /// (gate and up interleaved) with biases and a clamped SwiGLU; experts in full precision or MXFP4.
    /// </summary>
    GptOss,
}
