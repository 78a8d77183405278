namespace Toolkit.Data.Text.Tokenization.PreTokenizers;

/// <summary>
/// ByteLevel: optionally a space in front of each piece (add_prefix_space), optionally GPT-2's split regex (use_regex),
/// then every piece spelled in GPT-2's byte alphabet.
/// </summary>
internal sealed class ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex) : IPreTokenizer
{
    internal const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
    static readonly Lazy<TextPattern> Gpt2 = new(() => TextPattern.Regex(new OnigRegex(Gpt2Pattern, default)));

    public List<Piece> PreTokenize(List<Piece> pieces)
    {
        var split = new List<Piece>(pieces.Count * 4);
        foreach (var p in pieces)
        {
            var piece = addPrefixSpace && !p.Text.StartsWith(' ') ? p with { Text = " " + p.Text } : p;
            if (useRegex) Gpt2.Value.Split(piece, SplitBehavior.Isolated, split);
            else if (piece.Text.Length > 0) split.Add(piece);
        }
        for (int i = 0; i < split.Count; i++) split[i] = split[i] with { Text = ByteLevelAlphabet.EncodeFast(split[i].Text) };
        return split;
    }
}
