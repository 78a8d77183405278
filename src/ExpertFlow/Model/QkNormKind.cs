namespace ExpertFlow.Model;

/// <summary>Where q/k normalisation is applied (Qwen3-MoE: per head; OLMoE: over the whole projection).</summary>
public enum QkNormKind { None, PerHead, Full }
