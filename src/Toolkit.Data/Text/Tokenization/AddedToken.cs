namespace Toolkit.Data.Text.Tokenization;

/// <summary>
/// A token matched in the raw (or normalized) text before the model runs, as in tokenizer.json's "added_tokens":
/// special tokens (&lt;s&gt;, &lt;|im_start|&gt;) and plain added words.
/// </summary>
/// <param name="Content">The token's text.</param>
/// <param name="Special">Skipped by decoding with skipSpecialTokens.</param>
/// <param name="SingleWord">Matched only when no word character touches it.</param>
/// <param name="LStrip">Takes the whitespace before it.</param>
/// <param name="RStrip">Takes the whitespace after it.</param>
/// <param name="Normalized">Matched in the normalized text (otherwise in the raw text).</param>
public sealed record AddedToken(string Content, bool Special, bool SingleWord = false, bool LStrip = false, bool RStrip = false, bool Normalized = false)
{
    internal static AddedToken Parse(JsonField field)
    {
        if (field.Kind == System.Text.Json.JsonValueKind.String)
            return new AddedToken(field.AsString(), true);
        string content = field.Require("content").AsString();
        bool special = field.OptBool("special", false);
        return new AddedToken(content, special, field.OptBool("single_word", false), field.OptBool("lstrip", false),
            field.OptBool("rstrip", false), field.OptBool("normalized", !special));
    }
}
