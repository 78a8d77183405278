namespace ExpertFlow.Tracing;

/// <summary>What <see cref="TraceSetBuilder"/> traces.</summary>
/// <param name="Split">The corpus and which of its texts are held out.</param>
/// <param name="TrainEntries">Training texts traced (spread over the training part).</param>
/// <param name="MaxLength">Tokens per traced sequence (longer texts are cut).</param>
/// <param name="GeneratedEntries">
/// Also trace the model's greedy continuations of this many other training prompts: generation feeds the model its own
/// text, unlike the corpus's, and the predictor should see some of it.
/// </param>
public sealed record TraceSetOptions(CorpusSplit Split, int TrainEntries = 12000, int MaxLength = 64, int GeneratedEntries = 4000)
{
    /// <summary>Prompt tokens of each generated continuation.</summary>
    public const int GeneratedPromptTokens = 24;
}
