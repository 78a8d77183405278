namespace Toolkit.Data.Text.Tokenization.PreTokenizers;

/// <summary>Whitespace: keeps runs of word characters and runs of other non-space characters (\w+|[^\w\s]+).</summary>
internal sealed class WhitespacePreTokenizer : PieceSplitter
{
    static readonly Lazy<TextPattern> Words = new(() => TextPattern.Regex(new OnigRegex(@"\w+|[^\w\s]+", default), invert: true));

    protected override void Split(Piece piece, List<Piece> output) => Words.Value.Split(piece, SplitBehavior.Removed, output);
}
