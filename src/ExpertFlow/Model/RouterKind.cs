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
    /// <summary>Switch: classifier in fp32 → softmax → argmax; weight = max probability (cast to compute dtype).</summary>
    SwitchTop1,
}
