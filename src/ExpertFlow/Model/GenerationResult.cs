namespace ExpertFlow.Model;

/// <summary>The outcome of a generation call with its timings.</summary>
public sealed record GenerationResult(int[][] OutputIds, double PrefillSeconds, double DecodeSeconds, int DecodeSteps, int GeneratedTokens)
{
    /// <summary>New tokens after the first, per second of decoding (the first comes from the prefill).</summary>
    public double DecodeTokensPerSecond => DecodeSeconds > 0 ? (GeneratedTokens - OutputIds.Length) / DecodeSeconds : 0;
    /// <summary>All new tokens per second of prefill plus decoding.</summary>
    public double TokensPerSecond => PrefillSeconds + DecodeSeconds > 0 ? GeneratedTokens / (PrefillSeconds + DecodeSeconds) : 0;
}
