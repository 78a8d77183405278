namespace Toolkit.Data.Text.Tokenization.PreTokenizers;

/// <summary>A tokenizer.json "pre_tokenizer" block: splits (and may rewrite) the normalized pieces into words.</summary>
internal interface IPreTokenizer
{
    List<Piece> PreTokenize(List<Piece> pieces);
}

/// <summary>A pre-tokenizer that splits each piece on its own.</summary>
internal abstract class PieceSplitter : IPreTokenizer
{
    public List<Piece> PreTokenize(List<Piece> pieces)
    {
        var output = new List<Piece>(pieces.Count * 2);
        foreach (var p in pieces) Split(p, output);
        return output;
    }

    protected abstract void Split(Piece piece, List<Piece> output);
}
