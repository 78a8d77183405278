using System.Text.Json.Nodes;

namespace Toolkit.Data.Text.Templates;

/// <summary>What <see cref="ChatTemplate.Apply"/> passes to the template besides the messages (transformers' <c>apply_chat_template</c> arguments).</summary>
public sealed record ChatTemplateOptions
{
    /// <summary>Ends the prompt with the assistant's turn header (<c>add_generation_prompt</c>).</summary>
    public bool AddGenerationPrompt { get; init; }

    /// <summary>Tool (function) definitions as JSON schemas, passed as <c>tools</c>; null passes <c>tools=None</c>.</summary>
    public JsonArray? Tools { get; init; }

    /// <summary>The tokenizer's BOS token text (<c>bos_token</c>); null leaves the variable undefined.</summary>
    public string? BosToken { get; init; }

    /// <summary>The tokenizer's EOS token text (<c>eos_token</c>); null leaves the variable undefined.</summary>
    public string? EosToken { get; init; }

    /// <summary>Further template variables, e.g. <c>enable_thinking</c> (Qwen3) or <c>reasoning_effort</c> (gpt-oss).</summary>
    public IReadOnlyDictionary<string, JsonNode?> Extra { get; init; } = new Dictionary<string, JsonNode?>();

    /// <summary>The local time <c>strftime_now</c> formats; null uses the current local time.</summary>
    public DateTimeOffset? Now { get; init; }
}
