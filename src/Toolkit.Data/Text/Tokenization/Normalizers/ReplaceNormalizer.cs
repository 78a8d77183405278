namespace Toolkit.Data.Text.Tokenization.Normalizers;

/// <summary>Replace: every match of a String or Regex pattern becomes <c>content</c> (also the Replace decoder's rule).</summary>
internal sealed class ReplaceNormalizer(string? literal, OnigRegex? regex, string content) : INormalizer
{
    public string Normalize(string text) => Apply(text);

    public string Apply(string text) => regex != null ? regex.Replace(text, content) : TextPattern.ReplaceLiteral(text, literal!, content);

    public static ReplaceNormalizer Parse(JsonField block)
    {
        var (literal, regex) = TextPattern.ParsePatternObject(block.Require("pattern"));
        return new ReplaceNormalizer(literal, regex, block.Require("content").AsString());
    }
}
