using System.Text.Json;
using System.Text.RegularExpressions;

namespace ExpertFlow.Model;

/// <summary>
/// Typed access to config.json with errors that name the file and the key. A value of the wrong JSON type is an error,
/// never a silent default; numbers must fit the type asked for (no overflow, no infinity).
/// </summary>
internal sealed partial class ConfigReader(JsonElement root, string source)
{
    public InvalidDataException Error(string what) => new($"{source} {what}");

    /// <summary>What to do about a value of the wrong type or a missing field (appended to those errors).</summary>
    public const string Fix = " Compare config.json with the model's original.";

    /// <summary>A value as it reads in the file, on one line and shortened (for messages).</summary>
    public static string Show(JsonElement value)
    {
        string text = Whitespace().Replace(value.GetRawText(), " ");
        return text.Length > 60 ? text[..57] + "..." : text;
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    bool TryGet(string key, out JsonElement value)
    {
        if (root.TryGetProperty(key, out value) && value.ValueKind != JsonValueKind.Null) return true;
        value = default;
        return false;
    }

    public string? String(string key)
    {
        if (!TryGet(key, out var v)) return null;
        return v.ValueKind == JsonValueKind.String ? v.GetString() : throw Error($"has '{key}': {Show(v)}, which is not a string.{Fix}");
    }

    public int Int(string key) => IntOrNull(key) ?? throw Error($"has no '{key}' (an integer), which this model type needs.{Fix}");
    public int IntOr(string key, int fallback) => IntOrNull(key) ?? fallback;
    public int? IntOrNull(string key) => TryGet(key, out var v) ? AsInt(v, key) : null;

    int AsInt(JsonElement v, string key) =>
        v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i
        : throw Error($"has '{key}': {Show(v)}, which is not an integer{(v.ValueKind == JsonValueKind.Number ? $" between {int.MinValue} and {int.MaxValue}" : "")}.{Fix}");

    public double DoubleOr(string key, double fallback) => DoubleOrNull(key) ?? fallback;
    public double? DoubleOrNull(string key) => TryGet(key, out var v) ? AsDouble(v, key) : null;

    double AsDouble(JsonElement v, string key) =>
        v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d) && double.IsFinite(d) ? d
        : throw Error($"has '{key}': {Show(v)}, which is not a finite number.{Fix}");

    public bool BoolOr(string key, bool fallback)
    {
        if (!TryGet(key, out var v)) return fallback;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Error($"has '{key}': {Show(v)}, which is not true or false.{Fix}"),
        };
    }

    /// <summary>An integer or a list of integers (eos_token_id may be either); empty when absent.</summary>
    public int[] IntList(string key)
    {
        if (!TryGet(key, out var v)) return [];
        if (v.ValueKind == JsonValueKind.Number) return [AsInt(v, key)];
        if (v.ValueKind == JsonValueKind.Array) return v.EnumerateArray().Select(e => AsInt(e, key)).ToArray();
        throw Error($"has '{key}': {Show(v)}, which is neither an integer nor a list of integers.{Fix}");
    }

    /// <summary>A list of strings; null when absent.</summary>
    public string[]? StringList(string key)
    {
        if (!TryGet(key, out var v)) return null;
        if (v.ValueKind != JsonValueKind.Array || v.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
            throw Error($"has '{key}': {Show(v)}, which is not a list of strings.{Fix}");
        return v.EnumerateArray().Select(e => e.GetString()!).ToArray();
    }

    /// <summary>A string member of an object-valued field (e.g. quantization_config.quant_method); null when either is absent.</summary>
    public string? NestedString(string key, string member)
    {
        if (!TryGet(key, out var v)) return null;
        if (v.ValueKind != JsonValueKind.Object) throw Error($"has '{key}': {Show(v)}, which is not an object.{Fix}");
        return Member(v, member, key);
    }

    /// <summary>rope_theta (transformers 4) or rope_parameters.rope_theta (transformers 5).</summary>
    public double RopeTheta(double fallback)
    {
        if (RopeObject() is { Value: var p, Key: "rope_parameters" } && p.TryGetProperty("rope_theta", out var th) && th.ValueKind != JsonValueKind.Null)
            return AsDouble(th, "rope_parameters.rope_theta");
        return DoubleOr("rope_theta", fallback);
    }

    /// <summary>The RoPE scaling object: rope_scaling (transformers 4) or rope_parameters (transformers 5); null when absent.</summary>
    (string Key, JsonElement Value)? RopeObject()
    {
        foreach (string key in new[] { "rope_scaling", "rope_parameters" })
        {
            if (!TryGet(key, out var v)) continue;
            if (v.ValueKind != JsonValueKind.Object) throw Error($"has '{key}': {Show(v)}, which is not an object.{Fix}");
            // transformers 5 writes both: rope_parameters holds theta too; a rope_scaling without a type defers to it
            if (key == "rope_scaling" && Member(v, "rope_type", key) is null && Member(v, "type", key) is null && TryGet("rope_parameters", out _)) continue;
            return (key, v);
        }
        return null;
    }

    /// <summary>
    /// The RoPE scaling of rope_scaling / rope_parameters (default, linear, dynamic, yarn, llama3); any other type, or a
    /// field that changes RoPE in a way not implemented (partial_rotary_factor other than 1), names the field.
    /// </summary>
    public RopeScaling RopeScaling()
    {
        if (RopeObject() is not { Key: var key, Value: var s }) return Model.RopeScaling.None;
        string? kind = Member(s, "rope_type", key) ?? Member(s, "type", key);
        string field = s.TryGetProperty("rope_type", out _) ? $"{key}.rope_type" : $"{key}.type";
        double? Num(string name) => s.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? AsDouble(v, $"{key}.{name}") : null;
        if (Num("partial_rotary_factor") is double prf && prf != 1)
            throw Error($"has {key}.partial_rotary_factor {prf}; only RoPE over the whole head (1.0) is implemented.");
        var parsed = kind switch
        {
            null or "default" => Model.RopeScaling.None,
            "linear" => new RopeScaling { Kind = RopeKind.Linear },
            "dynamic" => new RopeScaling { Kind = RopeKind.Dynamic },
            "yarn" => new RopeScaling { Kind = RopeKind.Yarn },
            "llama3" => new RopeScaling { Kind = RopeKind.Llama3 },
            _ => throw Error($"has {field} '{kind}', which this runtime does not implement (default, linear, dynamic, yarn, llama3)."),
        };
        if (parsed.Kind == RopeKind.Default) return parsed;
        double factor = Num("factor") ?? throw Error($"has {field} '{kind}' without {key}.factor.{Fix}");
        if (!(factor > 0)) throw Error($"has {key}.factor {factor}; it must be positive.{Fix}");
        int? original = null;
        if (s.TryGetProperty("original_max_position_embeddings", out var o) && o.ValueKind != JsonValueKind.Null)
        {
            original = AsInt(o, $"{key}.original_max_position_embeddings");
            if (original < 1) throw Error($"has {key}.original_max_position_embeddings {original}; it must be positive.{Fix}");
        }
        if (parsed.Kind == RopeKind.Llama3 && original is null) throw Error($"has {field} 'llama3' without {key}.original_max_position_embeddings.{Fix}");
        bool truncate = true;
        if (s.TryGetProperty("truncate", out var tr) && tr.ValueKind != JsonValueKind.Null)
            truncate = tr.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw Error($"has '{key}.truncate': {Show(tr)}, which is not true or false.{Fix}"),
            };
        var result = parsed with
        {
            Factor = factor, OriginalMaxPositions = original, AttentionFactor = Num("attention_factor"),
            BetaFast = Num("beta_fast") ?? 32, BetaSlow = Num("beta_slow") ?? 1, Mscale = Num("mscale"), MscaleAllDim = Num("mscale_all_dim"),
            Truncate = truncate, LowFreqFactor = Num("low_freq_factor") ?? 1, HighFreqFactor = Num("high_freq_factor") ?? 4,
        };
        if (result.Kind == RopeKind.Llama3 && !(result.HighFreqFactor > result.LowFreqFactor && result.LowFreqFactor > 0))
            throw Error($"has {key}.low_freq_factor {result.LowFreqFactor} and high_freq_factor {result.HighFreqFactor}; they must be positive and low below high.{Fix}");
        return result;
    }

    /// <summary>A string member of an object value (null when absent).</summary>
    string? Member(JsonElement parent, string name, string parentKey)
    {
        if (!parent.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind == JsonValueKind.String ? v.GetString() : throw Error($"has '{parentKey}.{name}': {Show(v)}, which is not a string.{Fix}");
    }
}
