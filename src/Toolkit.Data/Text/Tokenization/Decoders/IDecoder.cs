namespace Toolkit.Data.Text.Tokenization.Decoders;

/// <summary>A tokenizer.json "decoder" block: turns tokens back into text pieces (joined afterwards).</summary>
internal interface IDecoder
{
    List<string> DecodeChain(List<string> tokens);
}
