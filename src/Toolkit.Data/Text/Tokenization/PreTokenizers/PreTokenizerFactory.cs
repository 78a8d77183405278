namespace Toolkit.Data.Text.Tokenization.PreTokenizers;

/// <summary>Builds a pre-tokenizer from its tokenizer.json block.</summary>
internal static class PreTokenizerFactory
{
    public static IPreTokenizer? Parse(JsonField? field)
    {
        if (field is not { IsNull: false } block) return null;
        string type = block.TypeName();
        return type switch
        {
            "ByteLevel" => new ByteLevelPreTokenizer(block.OptBool("add_prefix_space", true), block.OptBool("use_regex", true)),
            "Split" => SplitPreTokenizer.Parse(block),
            "Sequence" => new SequencePreTokenizer(block.Require("pretokenizers").Items().Select(p => Parse(p) ?? throw p.Error("must be a pre-tokenizer, not null")).ToList()),
            "Digits" => new DigitsPreTokenizer(block.OptBool("individual_digits", false)),
            "Metaspace" => MetaspacePreTokenizer.Parse(block),
            "Whitespace" => new WhitespacePreTokenizer(),
            "WhitespaceSplit" => new WhitespaceSplitPreTokenizer(),
            "Punctuation" => new PunctuationPreTokenizer(block.GetNonNull("behavior") is { } b ? TextPattern.ParseBehavior(b) : SplitBehavior.Isolated),
            "BertPreTokenizer" => new BertPreTokenizer(),
            "CharDelimiterSplit" => new CharDelimiterSplitPreTokenizer(block.Require("delimiter").AsChar()),
            "FixedLength" => new FixedLengthPreTokenizer(Math.Max(1, block.OptIndex("length", 5))),
            _ => throw block.Error($"has the unsupported pre-tokenizer type \"{type}\""),
        };
    }
}
