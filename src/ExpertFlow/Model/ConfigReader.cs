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

    /// <summary>rope_theta (transformers 4) or rope_parameters.rope_theta (transformers 5); only the default RoPE is implemented.</summary>
    public double RopeTheta(double fallback)
    {
        if (TryGet("rope_scaling", out var scaling))
        {
            if (scaling.ValueKind != JsonValueKind.Object) throw Error($"has 'rope_scaling': {Show(scaling)}, which is not an object.{Fix}");
            string? kind = Member(scaling, "rope_type", "rope_scaling") ?? Member(scaling, "type", "rope_scaling");
            if (kind is not (null or "default")) throw Error($"has rope_scaling of type '{kind}'; only the default RoPE is implemented.");
        }
        if (TryGet("rope_parameters", out var p))
        {
            if (p.ValueKind != JsonValueKind.Object) throw Error($"has 'rope_parameters': {Show(p)}, which is not an object.{Fix}");
            string? kind = Member(p, "rope_type", "rope_parameters");
            if (kind is not (null or "default")) throw Error($"has rope_parameters.rope_type '{kind}'; only the default RoPE is implemented.");
            if (p.TryGetProperty("rope_theta", out var th) && th.ValueKind != JsonValueKind.Null) return AsDouble(th, "rope_parameters.rope_theta");
        }
        return DoubleOr("rope_theta", fallback);
    }

    /// <summary>A string member of an object value (null when absent).</summary>
    string? Member(JsonElement parent, string name, string parentKey)
    {
        if (!parent.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind == JsonValueKind.String ? v.GetString() : throw Error($"has '{parentKey}.{name}': {Show(v)}, which is not a string.{Fix}");
    }
}
