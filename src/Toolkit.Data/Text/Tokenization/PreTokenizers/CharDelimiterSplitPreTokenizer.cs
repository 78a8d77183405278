namespace Toolkit.Data.Text.Tokenization.PreTokenizers;

/// <summary>CharDelimiterSplit: splits on one character, which is removed.</summary>
internal sealed class CharDelimiterSplitPreTokenizer(string delimiter) : PieceSplitter
{
    readonly TextPattern pattern = TextPattern.Literal(delimiter);

    protected override void Split(Piece piece, List<Piece> output) => pattern.Split(piece, SplitBehavior.Removed, output);
}
