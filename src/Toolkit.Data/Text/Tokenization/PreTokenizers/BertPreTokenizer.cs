namespace Toolkit.Data.Text.Tokenization.PreTokenizers;

/// <summary>BertPreTokenizer: whitespace split, then punctuation isolated.</summary>
internal sealed class BertPreTokenizer : IPreTokenizer
{
    readonly WhitespaceSplitPreTokenizer whitespace = new();
    readonly PunctuationPreTokenizer punctuation = new(SplitBehavior.Isolated);

    public List<Piece> PreTokenize(List<Piece> pieces) => punctuation.PreTokenize(whitespace.PreTokenize(pieces));
}
