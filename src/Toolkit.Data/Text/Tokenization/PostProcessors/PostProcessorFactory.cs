namespace Toolkit.Data.Text.Tokenization.PostProcessors;

/// <summary>Builds a post-processor from its tokenizer.json block.</summary>
internal static class PostProcessorFactory
{
    public static IPostProcessor? Parse(JsonField? field)
    {
        if (field is not { IsNull: false } block) return null;
        string type = block.TypeName();
        return type switch
        {
            "TemplateProcessing" => TemplateProcessor.Parse(block),
            "RobertaProcessing" => WrappingProcessor.Parse(block, "<s>", 0, "</s>", 2),
            "BertProcessing" => WrappingProcessor.Parse(block, "[CLS]", 101, "[SEP]", 102),
            "ByteLevel" => new ByteLevelProcessor(),
            "Sequence" => new SequenceProcessor(block.Require("processors").Items().Select(p => Parse(p) ?? throw p.Error("must be a post-processor, not null")).ToList()),
            _ => throw block.Error($"has the unsupported post-processor type \"{type}\""),
        };
    }
}
