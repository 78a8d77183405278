namespace Toolkit.Data.Text.Tokenization.Normalizers;

/// <summary>Prepend: puts a string in front of non-empty text.</summary>
internal sealed class PrependNormalizer(string prepend) : INormalizer
{
    public string Normalize(string text) => text.Length == 0 ? text : prepend + text;
}
