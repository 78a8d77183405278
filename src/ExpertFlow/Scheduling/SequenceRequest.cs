using ExpertFlow.Model;

namespace ExpertFlow.Scheduling;

/// <summary>Why a sequence ended.</summary>
public enum FinishReason
{
    /// <summary>A stop token or stop string.</summary>
    Stop,
    /// <summary>The new-token limit.</summary>
    Length,
    /// <summary>The caller cancelled it (e.g. the client went away).</summary>
    Cancelled,
}

/// <summary>One sequence to generate: its prompt ids and how to decode it; callbacks run on the scheduler's thread.</summary>
public sealed record SequenceRequest
{
    public required int[] Prompt { get; init; }
    public int MaxNewTokens { get; init; } = 32;
    public SamplingOptions Sampling { get; init; } = new();
    /// <summary>Tokens that end the sequence (kept in its output).</summary>
    public IReadOnlyCollection<int> StopTokens { get; init; } = [];
    /// <summary>After each new token: whether the sequence has ended anyway (e.g. a stop string); gets its tokens so far.</summary>
    public Func<IReadOnlyList<int>, bool>? Ended { get; init; }
    /// <summary>Each new token as it is chosen.</summary>
    public Action<int>? OnToken { get; init; }
    /// <summary>Ends the sequence early (checked before every step).</summary>
    public CancellationToken Cancellation { get; init; }
}

/// <summary>A finished sequence: its new tokens, why it ended, and when its first token came (seconds after it was queued).</summary>
public sealed record SequenceResult(int[] Tokens, FinishReason Reason, double QueuedSeconds, double TimeToFirstTokenSeconds, double TotalSeconds);
