using System.Text;

namespace Toolkit.Data.Text.Tokenization.Normalizers;

/// <summary>Builds a normalizer from its tokenizer.json block.</summary>
internal static class NormalizerFactory
{
    public static INormalizer? Parse(JsonField? field)
    {
        if (field is not { IsNull: false } block) return null;
        string type = block.TypeName();
        return type switch
        {
            "NFC" => new UnicodeFormNormalizer(NormalizationForm.FormC),
            "NFD" => new UnicodeFormNormalizer(NormalizationForm.FormD),
            "NFKC" => new UnicodeFormNormalizer(NormalizationForm.FormKC),
            "NFKD" => new UnicodeFormNormalizer(NormalizationForm.FormKD),
            "Lowercase" => new LowercaseNormalizer(),
            "Replace" => ReplaceNormalizer.Parse(block),
            "Prepend" => new PrependNormalizer(block.Require("prepend").AsString()),
            "Strip" => new StripNormalizer(block.OptBool("strip_left", false), block.OptBool("strip_right", false)),
            "StripAccents" => new StripAccentsNormalizer(),
            "Sequence" => new SequenceNormalizer(block.Require("normalizers").Items().Select(n => Parse(n) ?? throw n.Error("must be a normalizer, not null")).ToList()),
            "Precompiled" => PrecompiledNormalizer.Parse(block),
            "BertNormalizer" => new BertNormalizer(block.OptBool("clean_text", true), block.OptBool("handle_chinese_chars", true),
                block.GetNonNull("strip_accents")?.AsBool(), block.OptBool("lowercase", true)),
            "Nmt" => new NmtNormalizer(),
            "ByteLevel" => new ByteLevelNormalizer(),
            _ => throw block.Error($"has the unsupported normalizer type \"{type}\""),
        };
    }
}
