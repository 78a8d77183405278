using System.Text;

namespace Toolkit.Data.Text.Tokenization.Normalizers;

/// <summary>NFC, NFD, NFKC, NFKD.</summary>
internal sealed class UnicodeFormNormalizer(NormalizationForm form) : INormalizer
{
    public string Normalize(string text) => UnicodeNormalization.Normalize(text, form);
}
