namespace Toolkit.Data.Text.Tokenization.PreTokenizers;

/// <summary>How Metaspace puts its replacement character in front of a piece.</summary>
internal enum PrependScheme { Always, First, Never }

/// <summary>
/// Metaspace: spaces become the replacement character (▁), which is prepended to each piece (always), to the piece at
/// the start of the text (first) or never; with split, each ▁ starts a new piece.
/// </summary>
internal sealed class MetaspacePreTokenizer(string replacement, PrependScheme scheme, bool split) : PieceSplitter
{
    readonly TextPattern splitter = TextPattern.Literal(replacement);

    protected override void Split(Piece piece, List<Piece> output)
    {
        string text = piece.Text.Replace(" ", replacement, StringComparison.Ordinal);
        bool prepend = scheme switch
        {
            PrependScheme.Always => !text.StartsWith(replacement, StringComparison.Ordinal),
            PrependScheme.First => !text.StartsWith(replacement, StringComparison.Ordinal) && piece.AtStart,
            _ => false,
        };
        if (prepend) text = replacement + text;
        var p = piece with { Text = text };
        if (split) splitter.Split(p, SplitBehavior.MergedWithNext, output);
        else if (text.Length > 0) output.Add(p);
    }

    public static PrependScheme ParseScheme(JsonField block)
    {
        var scheme = block.GetNonNull("prepend_scheme") is { } f
            ? f.AsString() switch
            {
                "always" => PrependScheme.Always,
                "first" => PrependScheme.First,
                "never" => PrependScheme.Never,
                var other => throw f.Error($"names an unknown prepend scheme \"{other}\" (expected always, first or never)"),
            }
            : PrependScheme.Always;
        if (block.GetNonNull("add_prefix_space") is { } aps && !aps.AsBool())
        {
            if (scheme != PrependScheme.Never && block.GetNonNull("prepend_scheme") != null)
                throw aps.Error("does not match the declared prepend_scheme");
            scheme = PrependScheme.Never;
        }
        return scheme;
    }

    public static MetaspacePreTokenizer Parse(JsonField block) =>
        new(block.Require("replacement").AsChar(), ParseScheme(block), block.OptBool("split", true));
}
