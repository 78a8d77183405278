namespace Toolkit.Data.Text.Tokenization.Normalizers;

/// <summary>Strip: removes Unicode whitespace on the left and/or right.</summary>
internal sealed class StripNormalizer(bool left, bool right) : INormalizer
{
    public string Normalize(string text)
    {
        int start = 0, end = text.Length;
        if (left) while (start < end && TextPattern.IsWhitespace(text[start])) start++;
        if (right) while (end > start && TextPattern.IsWhitespace(text[end - 1])) end--;
        return text[start..end];
    }
}
