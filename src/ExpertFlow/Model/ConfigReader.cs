using System.Text.Json;

namespace ExpertFlow.Model;

/// <summary>Typed access to config.json with errors that name the file and the key.</summary>
internal sealed class ConfigReader(JsonElement root, string source)
{
    public InvalidDataException Error(string what) => new($"{source} {what}");

    bool TryGet(string key, out JsonElement value)
    {
        if (root.TryGetProperty(key, out value) && value.ValueKind != JsonValueKind.Null) return true;
        value = default;
        return false;
    }

    public string? String(string key) => TryGet(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public int Int(string key) => IntOrNull(key) ?? throw Error($"has no '{key}' (an integer), which this model type needs.");
    public int IntOr(string key, int fallback) => IntOrNull(key) ?? fallback;
    public int? IntOrNull(string key)
    {
        if (!TryGet(key, out var v)) return null;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i)) return i;
        throw Error($"has '{key}': {v.GetRawText()}, which is not an integer.");
    }

    public double DoubleOr(string key, double fallback) => DoubleOrNull(key) ?? fallback;
    public double? DoubleOrNull(string key)
    {
        if (!TryGet(key, out var v)) return null;
        if (v.ValueKind == JsonValueKind.Number) return v.GetDouble();
        throw Error($"has '{key}': {v.GetRawText()}, which is not a number.");
    }

    public bool BoolOr(string key, bool fallback)
    {
        if (!TryGet(key, out var v)) return fallback;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Error($"has '{key}': {v.GetRawText()}, which is not true or false."),
        };
    }

    /// <summary>An integer or a list of integers (eos_token_id may be either); empty when absent.</summary>
    public int[] IntList(string key)
    {
        if (!TryGet(key, out var v)) return [];
        if (v.ValueKind == JsonValueKind.Number) return [v.GetInt32()];
        if (v.ValueKind == JsonValueKind.Array) return v.EnumerateArray().Select(e => e.GetInt32()).ToArray();
        throw Error($"has '{key}': {v.GetRawText()}, which is neither an integer nor a list of integers.");
    }

    /// <summary>rope_theta (transformers 4) or rope_parameters.rope_theta (transformers 5); only the default RoPE is implemented.</summary>
    public double RopeTheta(double fallback)
    {
        if (TryGet("rope_scaling", out var scaling) && scaling.ValueKind == JsonValueKind.Object)
        {
            string? kind = scaling.TryGetProperty("rope_type", out var t) ? t.GetString() : scaling.TryGetProperty("type", out var t2) ? t2.GetString() : null;
            if (kind is not (null or "default")) throw Error($"has rope_scaling of type '{kind}'; only the default RoPE is implemented.");
        }
        if (TryGet("rope_parameters", out var p) && p.ValueKind == JsonValueKind.Object)
        {
            string? kind = p.TryGetProperty("rope_type", out var t) ? t.GetString() : null;
            if (kind is not (null or "default")) throw Error($"has rope_parameters.rope_type '{kind}'; only the default RoPE is implemented.");
            if (p.TryGetProperty("rope_theta", out var th) && th.ValueKind == JsonValueKind.Number) return th.GetDouble();
        }
        return DoubleOr("rope_theta", fallback);
    }
}
