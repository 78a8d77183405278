namespace Toolkit.Data.Text.Tokenization.PreTokenizers;

/// <summary>Split: a String or Regex pattern, one of the five behaviors, optionally inverted.</summary>
internal sealed class SplitPreTokenizer(TextPattern pattern, SplitBehavior behavior) : PieceSplitter
{
    protected override void Split(Piece piece, List<Piece> output) => pattern.Split(piece, behavior, output);

    public static SplitPreTokenizer Parse(JsonField block)
    {
        var (literal, regex) = TextPattern.ParsePatternObject(block.Require("pattern"));
        bool invert = block.OptBool("invert", false);
        var pattern = regex != null ? TextPattern.Regex(regex, invert) : TextPattern.Literal(literal!, invert);
        return new SplitPreTokenizer(pattern, TextPattern.ParseBehavior(block.Require("behavior")));
    }
}
