namespace Toolkit.Data.Text.Tokenization;

/// <summary>
/// Text for token ids that arrive one at a time (generation), as Hugging Face tokenizers' DecodeStream: the ids since
/// the last emitted chunk are decoded together with a few ids before them, and new text is released only once it
/// does not end in an incomplete character (U+FFFD from an unfinished UTF-8 or byte-fallback sequence). The chunks
/// concatenate to <see cref="HfTokenizer.Decode(IReadOnlyList{int}, bool)"/> of all ids whenever the ids end on a complete character, except
/// that transformers' clean_up_tokenization_spaces (a whole-text rewrite) is not applied, as in DecodeStream.
/// Not thread-safe; one instance per stream.
/// </summary>
public sealed class StreamingDecoder
{
    readonly HfTokenizer tokenizer;
    readonly bool skipSpecialTokens;
    List<int> ids = [];
    string prefix = "";
    int prefixIndex;

    /// <summary>Creates a stream over <paramref name="tokenizer"/>.</summary>
    public StreamingDecoder(HfTokenizer tokenizer, bool skipSpecialTokens = false)
    {
        this.tokenizer = tokenizer;
        this.skipSpecialTokens = skipSpecialTokens;
    }

    /// <summary>Adds one id; returns the text it completes (empty while a character is still incomplete).</summary>
    public string Append(int id)
    {
        ids.Add(id);
        string text = tokenizer.Decode(ids, skipSpecialTokens, applyCleanUp: false);
        if (text.Length <= prefix.Length || text.EndsWith('\uFFFD')) return "";
        // Hugging Face reports an error when the decoded text no longer starts with the prefix; the text after the
        // common part is released instead, so a stream never fails.
        int common = text.StartsWith(prefix, StringComparison.Ordinal) ? prefix.Length : CommonPrefixLength(text, prefix);
        string newText = text[common..];
        int newPrefixIndex = ids.Count - prefixIndex;
        ids = ids.GetRange(prefixIndex, ids.Count - prefixIndex);
        prefix = tokenizer.Decode(ids, skipSpecialTokens, applyCleanUp: false);
        prefixIndex = newPrefixIndex;
        return newText;
    }

    /// <summary>Forgets the stream (a new conversation turn).</summary>
    public void Reset()
    {
        ids = [];
        prefix = "";
        prefixIndex = 0;
    }

    static int CommonPrefixLength(string a, string b)
    {
        int n = Math.Min(a.Length, b.Length), i = 0;
        while (i < n && a[i] == b[i]) i++;
        return i;
    }
}
