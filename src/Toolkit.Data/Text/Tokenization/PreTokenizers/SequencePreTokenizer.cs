namespace Toolkit.Data.Text.Tokenization.PreTokenizers;

/// <summary>Sequence: the pre-tokenizers in order, each over the pieces of the previous one.</summary>
internal sealed class SequencePreTokenizer(IReadOnlyList<IPreTokenizer> preTokenizers) : IPreTokenizer
{
    public List<Piece> PreTokenize(List<Piece> pieces)
    {
        foreach (var p in preTokenizers) pieces = p.PreTokenize(pieces);
        return pieces;
    }
}
