namespace ExpertFlow.Model;

/// <summary>
/// The largest batch a loaded model will run: what the KV cache, the activations and (when experts are offloaded) the
/// memory plan are sized for.
/// </summary>
/// <param name="Rows">Sequences in the KV cache at once (two batches in flight: both).</param>
/// <param name="PromptTokens">Tokens of the longest prompt (the prefill step's width).</param>
/// <param name="Capacity">Positions per sequence: prompt plus new tokens (Switch: decoder positions).</param>
public sealed record Workload(int Rows, int PromptTokens, int Capacity)
{
    /// <summary>Rows prompts of <paramref name="promptTokens"/> tokens followed by <paramref name="newTokens"/> new ones.</summary>
    public static Workload For(int rows, int promptTokens, int newTokens) => new(rows, promptTokens, promptTokens + newTokens);
}
