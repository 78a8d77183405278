namespace Toolkit.Data.Text.Tokenization.Normalizers;

/// <summary>ByteLevel normalizer: spells the UTF-8 bytes in GPT-2's byte alphabet.</summary>
internal sealed class ByteLevelNormalizer : INormalizer
{
    public string Normalize(string text) => ByteLevelAlphabet.EncodeFast(text);
}
