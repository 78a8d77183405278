namespace Toolkit.Data.Text.Tokenization.Decoders;

/// <summary>CTC: repeated tokens collapsed, padding removed, word delimiters to spaces (with cleanup).</summary>
internal sealed class CtcDecoder(string padToken, string wordDelimiter, bool cleanup) : IDecoder
{
    public List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>();
        string? previous = null;
        foreach (string token in tokens)
        {
            if (token == previous) continue;
            previous = token;
            string replaced = padToken.Length == 0 ? token : token.Replace(padToken, "", StringComparison.Ordinal);
            if (cleanup && wordDelimiter.Length > 0) replaced = WordPieceDecoder.Cleanup(replaced).Replace(wordDelimiter, " ", StringComparison.Ordinal);
            if (replaced.Length > 0) result.Add(replaced);
        }
        return result;
    }
}
