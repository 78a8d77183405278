using Toolkit.Data.Text.Tokenization.Normalizers;
using Toolkit.Data.Text.Tokenization.PreTokenizers;

namespace Toolkit.Data.Text.Tokenization.Decoders;

/// <summary>Builds a decoder from its tokenizer.json block.</summary>
internal static class DecoderFactory
{
    public static IDecoder? Parse(JsonField? field)
    {
        if (field is not { IsNull: false } block) return null;
        string type = block.TypeName();
        return type switch
        {
            "ByteLevel" => new ByteLevelDecoder(),
            "ByteFallback" => new ByteFallbackDecoder(),
            "Fuse" => new FuseDecoder(),
            "Strip" => new StripDecoder(block.Require("content").AsChar(), block.OptIndex("start", 0), block.OptIndex("stop", 0)),
            "Metaspace" => new MetaspaceDecoder(block.Require("replacement").AsChar(), MetaspacePreTokenizer.ParseScheme(block)),
            "Replace" => new ReplaceDecoder(ReplaceNormalizer.Parse(block)),
            "Sequence" => new SequenceDecoder(block.Require("decoders").Items().Select(d => Parse(d) ?? throw d.Error("must be a decoder, not null")).ToList()),
            "WordPiece" => new WordPieceDecoder(block.OptString("prefix") ?? "##", block.OptBool("cleanup", true)),
            "BPEDecoder" => new BpeDecoder(block.OptString("suffix") ?? "</w>"),
            "CTC" => new CtcDecoder(block.OptString("pad_token") ?? "<pad>", block.OptString("word_delimiter_token") ?? "|", block.OptBool("cleanup", true)),
            _ => throw block.Error($"has the unsupported decoder type \"{type}\""),
        };
    }
}
