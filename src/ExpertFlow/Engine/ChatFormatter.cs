using System.Text.Json.Nodes;
using ExpertFlow.Model;
using Toolkit.Data.Text.Templates;

namespace ExpertFlow.Engine;

/// <summary>
/// A conversation as the model was trained to read it: the folder's chat template (tokenizer_config.json's
/// chat_template, chat_template.jinja, additional_chat_templates/) rendered as transformers' apply_chat_template does,
/// then encoded without adding special tokens again (the template writes them).
/// </summary>
public sealed class ChatFormatter
{
    readonly ChatTemplateCollection templates;
    readonly ModelTokenizer tokenizer;
    readonly string? name;

    ChatFormatter(ChatTemplateCollection templates, ModelTokenizer tokenizer, string? name)
    {
        this.templates = templates;
        this.tokenizer = tokenizer;
        this.name = name;
    }

    /// <summary>The folder's chat template, or null when it has none; <paramref name="name"/> picks one of several.</summary>
    public static ChatFormatter? TryLoad(string folder, ModelTokenizer tokenizer, string? name = null)
    {
        var templates = ChatTemplateCollection.FromDirectory(folder);
        if (templates.IsEmpty) return null;
        if (name != null && !templates.Names.Contains(name))
            throw new ArgumentException($"the model has no chat template named '{name}'; it has: {string.Join(", ", templates.Names)}");
        templates.Select(name); // a template outside the supported subset fails now, naming the construct
        return new ChatFormatter(templates, tokenizer, name);
    }

    /// <summary>The prompt text for <paramref name="messages"/> (OpenAI-style message objects).</summary>
    public string Render(JsonArray messages, bool addGenerationPrompt = true, JsonArray? tools = null, IReadOnlyDictionary<string, JsonNode?>? extra = null) =>
        templates.Select(name, hasTools: tools is { Count: > 0 }).Apply(messages, new ChatTemplateOptions
        {
            AddGenerationPrompt = addGenerationPrompt, Tools = tools, BosToken = tokenizer.BosToken, EosToken = tokenizer.EosToken,
            Extra = extra ?? new Dictionary<string, JsonNode?>(),
        });

    /// <summary>The prompt ids for <paramref name="messages"/>.</summary>
    public int[] Encode(JsonArray messages, bool addGenerationPrompt = true, JsonArray? tools = null, IReadOnlyDictionary<string, JsonNode?>? extra = null) =>
        tokenizer.Encode(Render(messages, addGenerationPrompt, tools, extra), addSpecialTokens: false);
}
