using System.Text.Json;
using System.Text.Json.Nodes;

namespace Toolkit.Data.Text.Templates;

/// <summary>
/// The chat templates a model folder provides: <c>chat_template</c> in tokenizer_config.json (a string, or a list
/// of <c>{name, template}</c>), overridden by <c>chat_template.jinja</c>, plus <c>additional_chat_templates/NAME.jinja</c>.
/// <see cref="Select"/> picks one as transformers does.
/// </summary>
public sealed class ChatTemplateCollection
{
    readonly Dictionary<string, (string Source, string Origin)> sources = new(StringComparer.Ordinal);
    readonly Dictionary<string, ChatTemplate> parsed = new(StringComparer.Ordinal);
    readonly object gate = new();

    /// <summary>The template names, "default" for a single unnamed template.</summary>
    public IReadOnlyCollection<string> Names => sources.Keys;

    /// <summary>True when the model provides no chat template.</summary>
    public bool IsEmpty => sources.Count == 0;

    /// <summary>Reads the templates of a tokenizer_config.json already parsed into <paramref name="config"/>.</summary>
    /// <exception cref="InvalidDataException"><c>chat_template</c> is neither a string nor a list of named templates.</exception>
    public static ChatTemplateCollection FromTokenizerConfig(JsonNode? config, string origin = "tokenizer_config.json")
    {
        var collection = new ChatTemplateCollection();
        collection.AddFromConfig(config, origin);
        return collection;
    }

    /// <summary>Reads the chat templates of a Hugging Face model folder (see the class summary); missing files are skipped.</summary>
    /// <exception cref="InvalidDataException">tokenizer_config.json is not JSON or its <c>chat_template</c> is malformed.</exception>
    public static ChatTemplateCollection FromDirectory(string directory)
    {
        var collection = new ChatTemplateCollection();
        string config = Path.Combine(directory, "tokenizer_config.json");
        if (File.Exists(config))
        {
            JsonNode? node;
            try
            {
                node = JsonNode.Parse(File.ReadAllText(config));
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{config}: not valid JSON ({e.Message})", e);
            }
            collection.AddFromConfig(node, config);
        }
        string jinja = Path.Combine(directory, "chat_template.jinja");
        if (File.Exists(jinja))
            collection.sources["default"] = (File.ReadAllText(jinja), jinja);
        string additional = Path.Combine(directory, "additional_chat_templates");
        if (Directory.Exists(additional))
            foreach (string file in Directory.EnumerateFiles(additional, "*.jinja").Order(StringComparer.Ordinal))
                collection.sources[Path.GetFileNameWithoutExtension(file)] = (File.ReadAllText(file), file);
        return collection;
    }

    void AddFromConfig(JsonNode? config, string origin)
    {
        if (config is not JsonObject obj)
            throw new InvalidDataException($"{origin}: expected a JSON object");
        if (!obj.TryGetPropertyValue("chat_template", out JsonNode? template) || template is null)
            return;
        switch (template)
        {
            case JsonValue value when value.TryGetValue(out string? text):
                sources["default"] = (text, origin);
                return;
            case JsonArray list:
                foreach (var item in list)
                {
                    if (item is not JsonObject entry
                        || entry["name"] is not JsonValue nameValue || !nameValue.TryGetValue(out string? name)
                        || entry["template"] is not JsonValue templateValue || !templateValue.TryGetValue(out string? text))
                        throw new InvalidDataException($"{origin}: chat_template list entries must be objects with string 'name' and 'template'");
                    sources[name] = (text, $"{origin} ({name})");
                }
                return;
        }
        throw new InvalidDataException($"{origin}: chat_template must be a string or a list of {{name, template}} objects");
    }

    /// <summary>
    /// The template named <paramref name="name"/>; without a name, "tool_use" when tools are given and the model has
    /// one, else "default". Parsed on first use and cached.
    /// </summary>
    /// <exception cref="TemplateException">No such template, or it does not parse.</exception>
    public ChatTemplate Select(string? name = null, bool hasTools = false)
    {
        if (sources.Count == 0)
            throw new TemplateException("the model provides no chat template (no chat_template in tokenizer_config.json and no chat_template.jinja)");
        string key;
        if (name is not null)
            key = sources.ContainsKey(name) ? name : throw new TemplateException($"no chat template named '{name}' (the model has: {string.Join(", ", sources.Keys)})");
        else if (hasTools && sources.ContainsKey("tool_use"))
            key = "tool_use";
        else if (sources.ContainsKey("default"))
            key = "default";
        else
            throw new TemplateException($"the model has several chat templates and none named 'default' (it has: {string.Join(", ", sources.Keys)}); choose one by name");
        lock (gate)
        {
            if (!parsed.TryGetValue(key, out var template))
            {
                var (source, origin) = sources[key];
                template = ChatTemplate.Parse(source, origin);
                parsed[key] = template;
            }
            return template;
        }
    }
}
