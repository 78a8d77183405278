using System.Globalization;
using System.Text;

namespace Toolkit.Data.Text.Tokenization.Normalizers;

/// <summary>StripAccents: removes combining marks (Mn, Mc, Me); usually after NFD.</summary>
internal sealed class StripAccentsNormalizer : INormalizer
{
    public string Normalize(string text) => Strip(text);

    public static string Strip(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (var r in text.EnumerateRunes())
            if (Rune.GetUnicodeCategory(r) is not (UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark))
                sb.Append(r.ToString());
        return sb.ToString();
    }
}
