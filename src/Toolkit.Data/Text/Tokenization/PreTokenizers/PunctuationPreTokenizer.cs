namespace Toolkit.Data.Text.Tokenization.PreTokenizers;

/// <summary>Punctuation: each punctuation character (ASCII punctuation or Unicode P*) split off by the behavior.</summary>
internal sealed class PunctuationPreTokenizer(SplitBehavior behavior) : PieceSplitter
{
    internal static readonly TextPattern Punctuation = TextPattern.Chars(TextPattern.IsPunctuation);

    protected override void Split(Piece piece, List<Piece> output) => Punctuation.Split(piece, behavior, output);
}
