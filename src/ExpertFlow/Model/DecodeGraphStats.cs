namespace ExpertFlow.Model;

/// <summary>CUDA graph use of a model so far.</summary>
/// <param name="Captures">Graphs captured (whole decode steps and segmented ones).</param>
/// <param name="Replays">Decode steps replayed from a graph.</param>
/// <param name="Off">Why graphs are off (null while on or unused).</param>
public sealed record DecodeGraphStats(int Captures, long Replays, string? Off)
{
    /// <summary>A model that never decodes from graphs (CPU, encoder-decoder), with the reason.</summary>
    public static DecodeGraphStats None(string why) => new(0, 0, why);
}
