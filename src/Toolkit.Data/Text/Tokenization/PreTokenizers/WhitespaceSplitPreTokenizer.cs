namespace Toolkit.Data.Text.Tokenization.PreTokenizers;

/// <summary>WhitespaceSplit: splits on Unicode whitespace, which is removed.</summary>
internal sealed class WhitespaceSplitPreTokenizer : PieceSplitter
{
    static readonly TextPattern Space = TextPattern.Chars(TextPattern.IsWhitespace);

    protected override void Split(Piece piece, List<Piece> output) => Space.Split(piece, SplitBehavior.Removed, output);
}
