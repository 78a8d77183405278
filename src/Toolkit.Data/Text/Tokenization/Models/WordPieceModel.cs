namespace Toolkit.Data.Text.Tokenization.Models;

/// <summary>WordPiece (BERT): greedy longest match first, continuation pieces carry "##"; a word that cannot be
/// covered, or is longer than max_input_chars_per_word, is unk_token.</summary>
internal sealed class WordPieceModel(Vocabulary vocab, string unkToken, string prefix, int maxChars) : ITokenizerModel
{
    public int VocabSize => vocab.Ids.Count;
    public int IdLimit => vocab.Tokens.Length;
    public int? TokenToId(string token) => vocab.Ids.TryGetValue(token, out int id) ? id : null;
    public string? IdToToken(int id) => vocab.IdToToken(id);

    public void Tokenize(string word, List<int> ids)
    {
        int chars = 0;
        foreach (var _ in word.EnumerateRunes()) chars++;
        var sub = new List<int>();
        bool bad = chars > maxChars;
        for (int start = 0; !bad && start < word.Length;)
        {
            int end = word.Length, found = -1;
            while (start < end)
            {
                string candidate = start > 0 ? prefix + word[start..end] : word[start..end];
                if (vocab.Ids.TryGetValue(candidate, out int id)) { found = id; break; }
                end -= end - 2 >= start && char.IsLowSurrogate(word[end - 1]) && char.IsHighSurrogate(word[end - 2]) ? 2 : 1;
            }
            if (found < 0) { bad = true; break; }
            sub.Add(found);
            start = end;
        }
        if (!bad) ids.AddRange(sub);
        else if (vocab.Ids.TryGetValue(unkToken, out int unk)) ids.Add(unk);
    }

    public static WordPieceModel Parse(JsonField block) =>
        new(Vocabulary.Parse(block.Require("vocab")), block.OptString("unk_token") ?? "[UNK]",
            block.OptString("continuing_subword_prefix") ?? "##", block.OptIndex("max_input_chars_per_word", 100));
}
