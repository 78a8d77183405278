using System.Text.Json;

namespace ExpertFlow.Model;

/// <summary>
/// A model folder's generation_config.json: the end-of-sequence ids and the decoding defaults its authors chose
/// (sampling or greedy, temperature, top-p, top-k, repetition penalty, stop strings). Command-line options override
/// each value; absent values fall back to transformers' defaults.
/// </summary>
public sealed record GenerationConfig
{
    public const string FileName = "generation_config.json";

    /// <summary>Ids that end a sequence (eos_token_id: one id or a list).</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];
    public int? BosTokenId { get; init; }
    public int? PadTokenId { get; init; }
    /// <summary>do_sample: sample (true) or decode greedily (false, transformers' default).</summary>
    public bool DoSample { get; init; }
    public double? Temperature { get; init; }
    public double? TopP { get; init; }
    public int? TopK { get; init; }
    public double? RepetitionPenalty { get; init; }
    public int? MaxNewTokens { get; init; }
    /// <summary>Texts that end a sequence once generated (stop_strings: one string or a list).</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];

    /// <summary>transformers' top_k when sampling and the file names none.</summary>
    public const int DefaultTopK = 50;

    /// <summary>The folder's generation_config.json, or null when it has none; a malformed one is an error naming the file and the field.</summary>
    public static GenerationConfig? Load(string folder)
    {
        string path = Path.Combine(folder, FileName);
        return File.Exists(path) ? Parse(File.ReadAllText(path), path) : null;
    }

    /// <summary>Parses the text of a generation_config.json; <paramref name="source"/> names it in errors.</summary>
    public static GenerationConfig Parse(string json, string source)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip }); }
        catch (JsonException e) { throw new InvalidDataException($"{source} is not JSON ({e.Message.Split('.')[0]}); fix or delete it"); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{source} must hold a JSON object, not {root.ValueKind}");
            var config = new GenerationConfig
            {
                EosTokenIds = Ids(root, "eos_token_id", source),
                BosTokenId = Ids(root, "bos_token_id", source).FirstOrDefault() is int b && root.TryGetProperty("bos_token_id", out var bv) && bv.ValueKind != JsonValueKind.Null ? b : null,
                PadTokenId = OptionalInt(root, "pad_token_id", source),
                DoSample = OptionalBool(root, "do_sample", source) ?? false,
                Temperature = OptionalNumber(root, "temperature", source),
                TopP = OptionalNumber(root, "top_p", source),
                TopK = OptionalInt(root, "top_k", source),
                RepetitionPenalty = OptionalNumber(root, "repetition_penalty", source),
                MaxNewTokens = OptionalInt(root, "max_new_tokens", source),
                StopStrings = Strings(root, "stop_strings", source),
            };
            if (config.Temperature is <= 0 && config.DoSample) throw new InvalidDataException($"{source}: temperature must be positive when do_sample is true (got {config.Temperature})");
            if (config.TopP is <= 0 or > 1) throw new InvalidDataException($"{source}: top_p must be in (0, 1] (got {config.TopP})");
            if (config.TopK is < 0) throw new InvalidDataException($"{source}: top_k cannot be negative (got {config.TopK})");
            if (config.RepetitionPenalty is <= 0) throw new InvalidDataException($"{source}: repetition_penalty must be positive (got {config.RepetitionPenalty})");
            if (config.MaxNewTokens is < 1) throw new InvalidDataException($"{source}: max_new_tokens must be at least 1 (got {config.MaxNewTokens})");
            if (config.EosTokenIds.Any(i => i < 0)) throw new InvalidDataException($"{source}: eos_token_id cannot be negative");
            return config;
        }
    }

    static IReadOnlyList<int> Ids(JsonElement root, string name, string source)
    {
        if (!root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return [];
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int one)) return [one];
        if (v.ValueKind == JsonValueKind.Array && v.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out _)))
            return v.EnumerateArray().Select(e => e.GetInt32()).ToArray();
        throw new InvalidDataException($"{source}: {name} must be a token id or a list of token ids");
    }

    static int? OptionalInt(JsonElement root, string name, string source)
    {
        if (!root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i : throw new InvalidDataException($"{source}: {name} must be an integer");
    }

    static double? OptionalNumber(JsonElement root, string name, string source)
    {
        if (!root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d) && double.IsFinite(d) ? d : throw new InvalidDataException($"{source}: {name} must be a number");
    }

    static bool? OptionalBool(JsonElement root, string name, string source)
    {
        if (!root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind switch { JsonValueKind.True => true, JsonValueKind.False => false, _ => throw new InvalidDataException($"{source}: {name} must be true or false") };
    }

    static IReadOnlyList<string> Strings(JsonElement root, string name, string source)
    {
        if (!root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return [];
        if (v.ValueKind == JsonValueKind.String) return v.GetString() is { Length: > 0 } s ? [s] : [];
        if (v.ValueKind == JsonValueKind.Array && v.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String))
            return v.EnumerateArray().Select(e => e.GetString()!).Where(s => s.Length > 0).ToArray();
        throw new InvalidDataException($"{source}: {name} must be a string or a list of strings");
    }

    /// <summary>
    /// The sampling the user asked for over these defaults: explicit greedy wins; any explicit sampling value turns
    /// sampling on; otherwise the file's do_sample decides, with its temperature, top-p, top-k (transformers' 50 when
    /// absent) and repetition penalty.
    /// </summary>
    public static SamplingOptions Resolve(GenerationConfig? config, SamplingRequest request)
    {
        bool explicitSampling = request.Temperature != null || request.TopK != null || request.TopP != null;
        if (request.Greedy && explicitSampling) throw new ArgumentException("greedy decoding cannot be combined with a temperature, top-k or top-p.");
        double penalty = request.RepetitionPenalty ?? config?.RepetitionPenalty ?? 1.0;
        bool sample = !request.Greedy && (explicitSampling || config?.DoSample == true);
        var options = sample
            ? new SamplingOptions
            {
                Greedy = false, Temperature = request.Temperature ?? config?.Temperature ?? 1.0,
                TopK = request.TopK ?? config?.TopK ?? (config?.DoSample == true ? DefaultTopK : 0),
                TopP = request.TopP ?? config?.TopP ?? 1.0, Seed = request.Seed, RepetitionPenalty = penalty,
            }
            : new SamplingOptions { RepetitionPenalty = penalty };
        options.Validate();
        return options;
    }

    /// <summary>The ids that end a sequence: the file's, else the model config's.</summary>
    public static IReadOnlyList<int> StopIds(GenerationConfig? config, MoeConfig model) =>
        config is { EosTokenIds.Count: > 0 } ? config.EosTokenIds : model.EosTokenIds;
}

/// <summary>What the user asked for about sampling (null: not given, the model's generation_config.json decides).</summary>
public sealed record SamplingRequest(bool Greedy = false, double? Temperature = null, int? TopK = null, double? TopP = null, double? RepetitionPenalty = null, long Seed = 0);
