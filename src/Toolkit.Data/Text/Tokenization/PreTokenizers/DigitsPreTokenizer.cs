namespace Toolkit.Data.Text.Tokenization.PreTokenizers;

/// <summary>Digits: numeric characters isolated one by one (individual_digits) or as runs.</summary>
internal sealed class DigitsPreTokenizer(bool individualDigits) : PieceSplitter
{
    static readonly TextPattern Numeric = TextPattern.Chars(TextPattern.IsNumeric);

    protected override void Split(Piece piece, List<Piece> output) =>
        Numeric.Split(piece, individualDigits ? SplitBehavior.Isolated : SplitBehavior.Contiguous, output);
}
