using System.Globalization;
using System.Text;

namespace Toolkit.Data.Text.Tokenization.Normalizers;

/// <summary>Lowercase, as Rust's <c>str::to_lowercase</c>: full mappings for U+0130 and the final-sigma rule.</summary>
internal sealed class LowercaseNormalizer : INormalizer
{
    public string Normalize(string text) => Lower(text);

    public static string Lower(string text)
    {
        var runes = text.EnumerateRunes().ToArray();
        var sb = new StringBuilder(text.Length);
        for (int i = 0; i < runes.Length; i++)
        {
            int cp = runes[i].Value;
            if (cp == 0x130) sb.Append("i\u0307");
            else if (cp == 0x3A3) sb.Append(IsFinalSigma(runes, i) ? 'ς' : 'σ');
            else sb.Append(Rune.ToLowerInvariant(runes[i]).ToString());
        }
        return sb.ToString();
    }

    // Σ becomes ς when a cased letter precedes it and none follows (case-ignorable characters skipped).
    static bool IsFinalSigma(Rune[] runes, int at)
    {
        int i = at - 1;
        while (i >= 0 && IsCaseIgnorable(runes[i])) i--;
        if (i < 0 || !IsCased(runes[i])) return false;
        int j = at + 1;
        while (j < runes.Length && IsCaseIgnorable(runes[j])) j++;
        return j >= runes.Length || !IsCased(runes[j]);
    }

    static bool IsCased(Rune r) => Rune.GetUnicodeCategory(r) is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter;

    static bool IsCaseIgnorable(Rune r) => r.Value is '\'' or '.' or ':' or 0xB7 or 0x2019
        || Rune.GetUnicodeCategory(r) is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark or UnicodeCategory.Format or UnicodeCategory.ModifierLetter or UnicodeCategory.ModifierSymbol;
}
