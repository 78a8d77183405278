namespace ExpertFlow.Model;

/// <summary>The RoPE variants the runtime implements (config.json's <c>rope_type</c>, transformers' names).</summary>
public enum RopeKind
{
    /// <summary>inv_freq = 1 / theta^(2i/d).</summary>
    Default,
    /// <summary>Position interpolation: inv_freq / factor.</summary>
    Linear,
    /// <summary>Dynamic NTK: past max_position_embeddings the base grows with the sequence length of the step.</summary>
    Dynamic,
    /// <summary>YaRN: interpolation blended with extrapolation by a ramp over frequencies, cos/sin scaled by an attention factor.</summary>
    Yarn,
    /// <summary>Llama 3: low frequencies divided by the factor, high ones kept, a smooth ramp in between.</summary>
    Llama3,
}

/// <summary>
/// A model's RoPE: theta and the scaling read from <c>rope_scaling</c> (transformers 4) or <c>rope_parameters</c>
/// (transformers 5), with transformers' defaults for the fields a config leaves out.
/// </summary>
public sealed record RopeScaling
{
    public static readonly RopeScaling None = new();

    public RopeKind Kind { get; init; } = RopeKind.Default;
    public double Factor { get; init; } = 1;
    /// <summary>The context the model was trained with (YaRN, llama3); null: max_position_embeddings.</summary>
    public int? OriginalMaxPositions { get; init; }
    /// <summary>YaRN: cos/sin are multiplied by this; null: derived from the factor and mscale (transformers' rule).</summary>
    public double? AttentionFactor { get; init; }
    public double BetaFast { get; init; } = 32;
    public double BetaSlow { get; init; } = 1;
    public double? Mscale { get; init; }
    public double? MscaleAllDim { get; init; }
    /// <summary>YaRN: round the correction range to whole dimensions (transformers' default; gpt-oss turns it off).</summary>
    public bool Truncate { get; init; } = true;
    public double LowFreqFactor { get; init; } = 1;
    public double HighFreqFactor { get; init; } = 4;

    /// <summary>YaRN's magnitude correction 0.1·m·ln(s) + 1 (1 for s ≤ 1).</summary>
    public static double YarnMscale(double scale, double mscale = 1) => scale <= 1 ? 1.0 : 0.1 * mscale * Math.Log(scale) + 1.0;
}
