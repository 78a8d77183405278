namespace Toolkit.Data.Text.Tokenization.Normalizers;

/// <summary>A tokenizer.json "normalizer" block: rewrites text before pre-tokenization.</summary>
internal interface INormalizer
{
    string Normalize(string text);
}
