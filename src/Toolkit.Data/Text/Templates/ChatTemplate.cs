using System.Text.Json.Nodes;

namespace Toolkit.Data.Text.Templates;

/// <summary>
/// A model's chat template (the <c>chat_template</c> of tokenizer_config.json), applied to a conversation the way
/// transformers' <c>apply_chat_template(messages, tools=..., add_generation_prompt=..., tokenize=False)</c> does.
/// </summary>
public sealed class ChatTemplate
{
    static readonly HashSet<string> Reserved = ["messages", "tools", "documents", "add_generation_prompt"];

    ChatTemplate(JinjaTemplate template) => Template = template;

    /// <summary>The underlying template.</summary>
    public JinjaTemplate Template { get; }

    /// <summary>Parses a chat template; <paramref name="name"/> (e.g. the file it came from) appears in error messages.</summary>
    /// <exception cref="TemplateException">A syntax error or a construct outside the supported subset.</exception>
    public static ChatTemplate Parse(string source, string? name = null) => new(JinjaTemplate.Parse(source, name));

    /// <summary>Parses a chat template with explicit limits.</summary>
    /// <exception cref="TemplateException">A syntax error or a construct outside the supported subset.</exception>
    public static ChatTemplate Parse(string source, string? name, TemplateLimits limits) => new(JinjaTemplate.Parse(source, name, limits));

    /// <summary>
    /// Renders the prompt for <paramref name="messages"/> (OpenAI-style message objects: role, content as a string or
    /// a list of parts, tool_calls, reasoning_content, name, tool_call_id, ... passed through unchanged).
    /// </summary>
    /// <exception cref="TemplateException">The template rejected the conversation (its own <c>raise_exception</c>), or failed as jinja2 would.</exception>
    /// <exception cref="ArgumentException"><see cref="ChatTemplateOptions.Extra"/> names a variable the template call sets itself.</exception>
    public string Apply(JsonArray messages, ChatTemplateOptions options)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(options);
        var variables = new Dictionary<string, object?>();
        if (options.BosToken is not null)
            variables["bos_token"] = options.BosToken;
        if (options.EosToken is not null)
            variables["eos_token"] = options.EosToken;
        foreach (var (key, value) in options.Extra)
        {
            if (Reserved.Contains(key))
                throw new ArgumentException($"'{key}' is set by the chat template call itself and cannot be passed as an extra variable", nameof(options));
            variables[key] = TemplateValues.FromJson(value);
        }
        variables["messages"] = TemplateValues.FromJson(messages);
        variables["tools"] = options.Tools is null ? null : TemplateValues.FromJson(options.Tools);
        variables["documents"] = null;
        variables["add_generation_prompt"] = options.AddGenerationPrompt;
        return Template.RenderValues(variables, options.Now);
    }
}
