namespace Toolkit.Data.Text.Tokenization.PostProcessors;

/// <summary>ByteLevel post-processor: only trims offsets in Hugging Face; ids are unchanged.</summary>
internal sealed class ByteLevelProcessor : IPostProcessor
{
    public (IReadOnlyList<int> Before, IReadOnlyList<int> After) Added { get; } = ([], []);
    public List<int> Process(List<int> ids, bool addSpecialTokens) => ids;
}
