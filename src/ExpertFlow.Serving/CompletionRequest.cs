using System.Text.Json;
using System.Text.Json.Nodes;

namespace ExpertFlow.Serving;

/// <summary>Which OpenAI endpoint a request came to.</summary>
public enum CompletionKind
{
    /// <summary>POST /v1/chat/completions: messages rendered through the model's chat template.</summary>
    Chat,
    /// <summary>POST /v1/completions: a plain prompt.</summary>
    Text,
}

/// <summary>A parsed and checked completion request (the fields the server supports; others are refused or ignored as docs/expertflow-serving.md lists).</summary>
public sealed record CompletionRequest
{
    public required CompletionKind Kind { get; init; }
    public required string Model { get; init; }
    /// <summary>Chat: the conversation (OpenAI message objects, passed to the template unchanged).</summary>
    public JsonArray? Messages { get; init; }
    /// <summary>Chat: tool definitions for the template.</summary>
    public JsonArray? Tools { get; init; }
    /// <summary>Chat: extra template variables (e.g. enable_thinking), from chat_template_kwargs.</summary>
    public IReadOnlyDictionary<string, JsonNode?> TemplateArgs { get; init; } = new Dictionary<string, JsonNode?>();
    /// <summary>Text: the prompt as text, or as token ids.</summary>
    public string? Prompt { get; init; }
    public int[]? PromptIds { get; init; }
    public int? MaxTokens { get; init; }
    public double? Temperature { get; init; }
    public double? TopP { get; init; }
    public long? Seed { get; init; }
    public IReadOnlyList<string> Stop { get; init; } = [];
    public bool Stream { get; init; }
    public bool IncludeUsage { get; init; }
    /// <summary>Generate max_tokens whatever the model says (vLLM's extension, for benchmarks): stop ids are not applied.</summary>
    public bool IgnoreEos { get; init; }

    static readonly HashSet<string> Roles = ["system", "developer", "user", "assistant", "tool"];

    /// <summary>Parses a request body; an <see cref="ApiException"/> (400) says which field is wrong.</summary>
    public static CompletionRequest Parse(JsonNode? body, CompletionKind kind)
    {
        if (body is not JsonObject o) throw ApiException.BadRequest("the request body must be a JSON object");
        string model = String(o, "model") ?? throw ApiException.BadRequest("'model' is required", "model");
        int n = Int(o, "n") ?? 1;
        if (n != 1) throw ApiException.BadRequest("only n=1 is supported", "n");
        foreach (var penalty in new[] { "presence_penalty", "frequency_penalty" })
            if (Number(o, penalty) is double p && p != 0) throw ApiException.BadRequest($"'{penalty}' is not supported (only 0)", penalty);
        if (o["logprobs"] is JsonValue lp && lp.GetValueKind() == JsonValueKind.True) throw ApiException.BadRequest("'logprobs' is not supported", "logprobs");
        if (o["response_format"] is JsonObject rf && String(rf, "type") is string t && t != "text") throw ApiException.BadRequest($"response_format '{t}' is not supported (only text)", "response_format");
        int? maxTokens = Int(o, "max_completion_tokens") ?? Int(o, "max_tokens");
        if (maxTokens is < 1) throw ApiException.BadRequest("'max_tokens' must be at least 1", "max_tokens");
        double? temperature = Number(o, "temperature");
        if (temperature is < 0 or > 2) throw ApiException.BadRequest("'temperature' must be between 0 and 2", "temperature");
        double? topP = Number(o, "top_p");
        if (topP is <= 0 or > 1) throw ApiException.BadRequest("'top_p' must be in (0, 1]", "top_p");
        var stop = o["stop"] switch
        {
            null => [],
            JsonValue v when v.GetValueKind() == JsonValueKind.String => [v.GetValue<string>()],
            JsonArray a when a.All(x => x is JsonValue s && s.GetValueKind() == JsonValueKind.String) => a.Select(x => x!.GetValue<string>()).ToList(),
            _ => throw ApiException.BadRequest("'stop' must be a string or a list of strings", "stop"),
        };
        if (stop.Count > 4) throw ApiException.BadRequest("'stop' holds at most 4 strings", "stop");
        if (stop.Any(s => s.Length == 0)) throw ApiException.BadRequest("'stop' strings cannot be empty", "stop");
        bool stream = Bool(o, "stream") ?? false;
        bool includeUsage = o["stream_options"] is JsonObject so && (Bool(so, "include_usage") ?? false);
        var request = new CompletionRequest
        {
            Kind = kind, Model = model, MaxTokens = maxTokens, Temperature = temperature, TopP = topP, Seed = Long(o, "seed"), Stop = stop,
            Stream = stream, IncludeUsage = includeUsage, IgnoreEos = Bool(o, "ignore_eos") ?? false,
        };
        return kind == CompletionKind.Chat ? request with { Messages = ParseMessages(o), Tools = ParseTools(o), TemplateArgs = ParseTemplateArgs(o) } : WithPrompt(request, o);
    }

    static JsonArray ParseMessages(JsonObject o)
    {
        if (o["messages"] is not JsonArray messages || messages.Count == 0) throw ApiException.BadRequest("'messages' must be a non-empty list", "messages");
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i] is not JsonObject m) throw ApiException.BadRequest($"messages[{i}] must be an object", "messages");
            string? role = String(m, "role");
            if (role == null || !Roles.Contains(role)) throw ApiException.BadRequest($"messages[{i}].role must be one of {string.Join(", ", Roles)}", "messages");
            var content = m["content"];
            bool ok = content is null || content is JsonValue v && v.GetValueKind() == JsonValueKind.String
                || content is JsonArray parts && parts.All(p => p is JsonObject po && String(po, "type") == "text" && String(po, "text") != null);
            if (!ok) throw ApiException.BadRequest($"messages[{i}].content must be a string or a list of text parts", "messages");
        }
        return (JsonArray)messages.DeepClone();
    }

    static JsonArray? ParseTools(JsonObject o) => o["tools"] switch
    {
        null => null,
        JsonArray a => (JsonArray)a.DeepClone(),
        _ => throw ApiException.BadRequest("'tools' must be a list", "tools"),
    };

    static IReadOnlyDictionary<string, JsonNode?> ParseTemplateArgs(JsonObject o) => o["chat_template_kwargs"] switch
    {
        null => new Dictionary<string, JsonNode?>(),
        JsonObject args => args.ToDictionary(kv => kv.Key, kv => kv.Value?.DeepClone()),
        _ => throw ApiException.BadRequest("'chat_template_kwargs' must be an object", "chat_template_kwargs"),
    };

    static CompletionRequest WithPrompt(CompletionRequest request, JsonObject o)
    {
        if (Bool(o, "echo") == true) throw ApiException.BadRequest("'echo' is not supported", "echo");
        if (o["suffix"] is JsonValue) throw ApiException.BadRequest("'suffix' is not supported", "suffix");
        if ((Int(o, "best_of") ?? 1) != 1) throw ApiException.BadRequest("only best_of=1 is supported", "best_of");
        switch (o["prompt"])
        {
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                return request with { Prompt = v.GetValue<string>() };
            case JsonArray a when a.Count == 1 && a[0] is JsonValue s && s.GetValueKind() == JsonValueKind.String:
                return request with { Prompt = s.GetValue<string>() };
            case JsonArray a when a.Count > 0 && a.All(x => x is JsonValue i && i.GetValueKind() == JsonValueKind.Number && i.TryGetValue(out int id) && id >= 0):
                return request with { PromptIds = a.Select(x => x!.GetValue<int>()).ToArray() };
            default:
                throw ApiException.BadRequest("'prompt' must be a string, a list of one string, or a list of token ids (one prompt per request)", "prompt");
        }
    }

    static string? String(JsonObject o, string name) => o[name] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        _ => throw ApiException.BadRequest($"'{name}' must be a string", name),
    };

    static double? Number(JsonObject o, string name) => o[name] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out double d) && double.IsFinite(d) => d,
        _ => throw ApiException.BadRequest($"'{name}' must be a number", name),
    };

    static int? Int(JsonObject o, string name) => o[name] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out int i) => i,
        _ => throw ApiException.BadRequest($"'{name}' must be an integer", name),
    };

    static long? Long(JsonObject o, string name) => o[name] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out long l) => l,
        _ => throw ApiException.BadRequest($"'{name}' must be an integer", name),
    };

    static bool? Bool(JsonObject o, string name) => o[name] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
        _ => throw ApiException.BadRequest($"'{name}' must be true or false", name),
    };
}
