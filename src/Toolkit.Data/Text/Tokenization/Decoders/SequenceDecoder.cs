namespace Toolkit.Data.Text.Tokenization.Decoders;

/// <summary>Sequence: the decoders in order, each over the previous one's pieces.</summary>
internal sealed class SequenceDecoder(IReadOnlyList<IDecoder> decoders) : IDecoder
{
    public List<string> DecodeChain(List<string> tokens)
    {
        foreach (var d in decoders) tokens = d.DecodeChain(tokens);
        return tokens;
    }
}
