namespace ExpertFlow.Model;

/// <summary>How a family turns router logits into experts and weights (all as transformers does in eval).</summary>
internal enum RouterKind
{
    /// <summary>softmax (fp32) → top-k → optional renormalisation (Qwen2/3-MoE, OLMoE: weights cast to the compute dtype).</summary>
    SoftmaxTopK,
    /// <summary>Mixtral: softmax (fp32) → top-k → always renormalised; weights stay fp32 when applied.</summary>
    Mixtral,
    /// <summary>DeepSeek-MoE v1: softmax (fp32) → top-k → optional renormalisation with +1e-20; weights stay fp32.</summary>
    Deepseek,
    /// <summary>GraniteMoE: top-k of the fp32 logits, softmax over those k (cast to the compute dtype).</summary>
    GraniteTopK,
    /// <summary>DeepSeek-V2: fp32 router, softmax, top-k (optionally within the top groups by their best score), times routed_scaling_factor.</summary>
    DeepseekV2,
    /// <summary>DeepSeek-V3: fp32 router, sigmoid, choice by score + correction bias within the groups with the best top-2 sums; weights are the plain scores, normalised, times routed_scaling_factor.</summary>
    DeepseekV3,
    /// <summary>gpt-oss: router with a bias; top-k of the logits, softmax over those k (in the logits' dtype).</summary>
    GptOss,
    /// <summary>Switch: classifier in fp32 → softmax → argmax; weight = max probability (cast to compute dtype).</summary>
    SwitchTop1,
}
