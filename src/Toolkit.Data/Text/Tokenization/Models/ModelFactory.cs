using System.Text.Json;

namespace Toolkit.Data.Text.Tokenization.Models;

/// <summary>Builds the model from tokenizer.json's "model" block (BPE, Unigram, WordLevel, WordPiece).</summary>
internal static class ModelFactory
{
    public static ITokenizerModel Parse(JsonField block)
    {
        block.RequireObject();
        string type = block.OptString("type") ?? Infer(block);
        return type switch
        {
            "BPE" => BpeModel.Parse(block),
            "Unigram" => UnigramModel.Parse(block),
            "WordLevel" => WordLevelModel.Parse(block),
            "WordPiece" => WordPieceModel.Parse(block),
            _ => throw block.Error($"has the unsupported model type \"{type}\""),
        };
    }

    // Files written before the "type" field existed: tell the kinds apart by their fields.
    static string Infer(JsonField block)
    {
        if (block.Get("merges") != null) return "BPE";
        if (block.GetNonNull("vocab") is { Kind: JsonValueKind.Array }) return "Unigram";
        if (block.Get("max_input_chars_per_word") != null) return "WordPiece";
        if (block.Get("vocab") != null) return "WordLevel";
        throw block.Error("has no \"type\" and no \"vocab\"");
    }
}
