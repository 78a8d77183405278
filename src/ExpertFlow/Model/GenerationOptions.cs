namespace ExpertFlow.Model;

/// <summary>Options of one generation call.</summary>
public sealed record GenerationOptions
{
    public int MaxNewTokens { get; init; } = 32;
    public SamplingOptions Sampling { get; init; } = new();
    /// <summary>Tokens that end a sequence (included in its output); default: the config's eos_token_id.</summary>
    public IReadOnlyCollection<int>? StopTokens { get; init; }
    /// <summary>Called for every new token: (sequence index, token id).</summary>
    public Action<int, int>? OnToken { get; init; }
    /// <summary>After each new token: whether the sequence has ended anyway (e.g. its text holds a stop string); (sequence index, its tokens so far).</summary>
    public Func<int, IReadOnlyList<int>, bool>? Ended { get; init; }
}
