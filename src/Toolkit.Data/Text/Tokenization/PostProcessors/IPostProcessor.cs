namespace Toolkit.Data.Text.Tokenization.PostProcessors;

/// <summary>A tokenizer.json "post_processor" block: adds special tokens around one encoded sequence.</summary>
internal interface IPostProcessor
{
    List<int> Process(List<int> ids, bool addSpecialTokens);

    /// <summary>Ids this processor adds in front of and after a sequence (for add_bos_token bookkeeping).</summary>
    (IReadOnlyList<int> Before, IReadOnlyList<int> After) Added { get; }
}
