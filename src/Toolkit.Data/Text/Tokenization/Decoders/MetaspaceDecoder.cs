using Toolkit.Data.Text.Tokenization.PreTokenizers;

namespace Toolkit.Data.Text.Tokenization.Decoders;

/// <summary>Metaspace: the replacement character back to spaces; in the first token (unless prepend_scheme is
/// "never") every replacement character is dropped instead, as Hugging Face does.</summary>
internal sealed class MetaspaceDecoder(string replacement, PrependScheme scheme) : IDecoder
{
    public List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        for (int i = 0; i < tokens.Count; i++)
            result.Add(tokens[i].Replace(replacement, i == 0 && scheme != PrependScheme.Never ? "" : " ", StringComparison.Ordinal));
        return result;
    }
}
