using Toolkit.Data.Text.Tokenization.Normalizers;

namespace Toolkit.Data.Text.Tokenization.Decoders;

/// <summary>Replace: each token's matches of a String or Regex pattern become <c>content</c>.</summary>
internal sealed class ReplaceDecoder(ReplaceNormalizer rule) : IDecoder
{
    public List<string> DecodeChain(List<string> tokens) => tokens.Select(rule.Apply).ToList();
}
