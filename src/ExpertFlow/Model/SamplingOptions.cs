namespace ExpertFlow.Model;

/// <summary>How to pick next tokens.</summary>
public sealed record SamplingOptions
{
    /// <summary>Greedy (argmax) when true; otherwise sample with the options below.</summary>
    public bool Greedy { get; init; } = true;
    public double Temperature { get; init; } = 1.0;
    /// <summary>Keep the k most likely tokens (0: all).</summary>
    public int TopK { get; init; }
    /// <summary>Keep the smallest set of tokens whose probability reaches p (1: all).</summary>
    public double TopP { get; init; } = 1.0;
    public long Seed { get; init; }
    /// <summary>transformers' repetition penalty over the prompt and the tokens so far (1: off); applies to greedy decoding too.</summary>
    public double RepetitionPenalty { get; init; } = 1.0;

    public void Validate()
    {
        if (!(RepetitionPenalty > 0) || !double.IsFinite(RepetitionPenalty)) throw new ArgumentException($"the repetition penalty must be positive (got {RepetitionPenalty}).");
        if (Greedy) return;
        if (!(Temperature > 0)) throw new ArgumentException($"the sampling temperature must be positive (got {Temperature}); use greedy decoding for argmax.");
        if (TopK < 0) throw new ArgumentException($"top-k must be 0 (off) or positive (got {TopK}).");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"top-p must be in (0, 1] (got {TopP}).");
    }
}
