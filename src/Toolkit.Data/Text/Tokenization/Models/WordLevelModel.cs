namespace Toolkit.Data.Text.Tokenization.Models;

/// <summary>WordLevel: each piece is one vocabulary entry, or unk_token.</summary>
internal sealed class WordLevelModel(Vocabulary vocab, string unkToken) : ITokenizerModel
{
    public int VocabSize => vocab.Ids.Count;
    public int IdLimit => vocab.Tokens.Length;
    public int? TokenToId(string token) => vocab.Ids.TryGetValue(token, out int id) ? id : null;
    public string? IdToToken(int id) => vocab.IdToToken(id);

    public void Tokenize(string piece, List<int> ids)
    {
        if (vocab.Ids.TryGetValue(piece, out int id)) ids.Add(id);
        else if (vocab.Ids.TryGetValue(unkToken, out int unk)) ids.Add(unk);
    }

    public static WordLevelModel Parse(JsonField block) =>
        new(Vocabulary.Parse(block.Require("vocab")), block.OptString("unk_token") ?? "<unk>");
}
