using System.Text;

namespace Toolkit.Data.Text.Tokenization.Normalizers;

/// <summary>Nmt: removes some control characters and turns others (and zero-width spaces) into spaces.</summary>
internal sealed class NmtNormalizer : INormalizer
{
    public string Normalize(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (var r in text.EnumerateRunes())
        {
            int c = r.Value;
            if (c is (>= 0x1 and <= 0x8) or 0xB or (>= 0xE and <= 0x1F) or 0x7F or 0x8F or 0x9F) continue;
            if (c is 0x9 or 0xA or 0xC or 0xD or 0x1680 or (>= 0x200B and <= 0x200F) or 0x2028 or 0x2029 or 0x2581 or 0xFEFF or 0xFFFD) sb.Append(' ');
            else sb.Append(r.ToString());
        }
        return sb.ToString();
    }
}
