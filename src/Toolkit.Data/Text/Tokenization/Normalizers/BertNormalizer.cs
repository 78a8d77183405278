using System.Globalization;
using System.Text;

namespace Toolkit.Data.Text.Tokenization.Normalizers;

/// <summary>BertNormalizer: control characters removed, whitespace to spaces, CJK characters padded, accents and case.</summary>
internal sealed class BertNormalizer(bool cleanText, bool handleChineseChars, bool? stripAccents, bool lowercase) : INormalizer
{
    public string Normalize(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (var r in text.EnumerateRunes())
        {
            int cp = r.Value;
            if (cleanText)
            {
                if (cp == 0 || cp == 0xFFFD || IsControl(r)) continue;
                if (cp is '\t' or '\n' or '\r' || TextPattern.IsWhitespace(cp)) { Append(sb, " ", false); continue; }
            }
            Append(sb, r.ToString(), handleChineseChars && IsChinese(cp));
        }
        string s = sb.ToString();
        if (stripAccents ?? lowercase) s = StripAccentsNormalizer.Strip(UnicodeNormalization.Normalize(s, NormalizationForm.FormD));
        if (lowercase) s = LowercaseNormalizer.Lower(s);
        return s;
    }

    static void Append(StringBuilder sb, string c, bool pad)
    {
        if (pad) sb.Append(' ').Append(c).Append(' ');
        else sb.Append(c);
    }

    static bool IsControl(Rune r) => r.Value is not ('\t' or '\n' or '\r') && Rune.GetUnicodeCategory(r) is
        UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.OtherNotAssigned or UnicodeCategory.PrivateUse or UnicodeCategory.Surrogate;

    static bool IsChinese(int cp) => cp is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF)
        or (>= 0x2A700 and <= 0x2B73F) or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B920 and <= 0x2CEAF) or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);
}
