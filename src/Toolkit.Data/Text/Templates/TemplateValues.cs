using System.Globalization;
using System.Numerics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Toolkit.Data.Text.Templates;

/// <summary>Converts .NET and JSON values into template values (what Python's <c>json.loads</c> would give a template).</summary>
internal static class TemplateValues
{
    /// <summary>Objects become dicts (key order kept), arrays lists, numbers int or float as written, null None.</summary>
    public static object? FromJson(JsonNode? node)
    {
        switch (node)
        {
            case null:
                return null;
            case JsonObject obj:
                {
                    var dict = new PyDict();
                    foreach (var (key, value) in obj)
                        dict.Set(key, FromJson(value));
                    return dict;
                }
            case JsonArray array:
                return array.Select(FromJson).ToList();
            case JsonValue value:
                if (value.TryGetValue(out JsonElement element))
                    return FromElement(element);
                if (value.TryGetValue(out string? s))
                    return s;
                if (value.TryGetValue(out bool b))
                    return b;
                if (value.TryGetValue(out long l))
                    return l;
                if (value.TryGetValue(out int i))
                    return (long)i;
                if (value.TryGetValue(out double d))
                    return d;
                if (value.TryGetValue(out float f))
                    return (double)f;
                if (value.TryGetValue(out decimal m))
                    return decimal.Truncate(m) == m ? PyOps.Normalize(new BigInteger(m)) : (double)m;
                return FromElement(JsonSerializer.SerializeToElement(value));
        }
        throw new InvalidDataException($"unsupported JSON node {node.GetType().Name}");
    }

    static object? FromElement(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return element.GetString();
            case JsonValueKind.True:
                return true;
            case JsonValueKind.False:
                return false;
            case JsonValueKind.Null or JsonValueKind.Undefined:
                return null;
            case JsonValueKind.Number:
                {
                    string raw = element.GetRawText();
                    if (raw.AsSpan().IndexOfAny(".eE") >= 0)
                        return double.Parse(raw, NumberStyles.Float, CultureInfo.InvariantCulture);
                    return PyOps.Normalize(BigInteger.Parse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture));
                }
            case JsonValueKind.Object:
                return FromJson(JsonObject.Create(element));
            case JsonValueKind.Array:
                return FromJson(JsonArray.Create(element));
        }
        return null;
    }

    /// <summary>Plain .NET values (strings, numbers, booleans, lists, dictionaries, JSON nodes) as template values.</summary>
    public static object? FromClr(object? value) => value switch
    {
        null => null,
        string or bool or long or double or BigInteger => value,
        int i => (long)i,
        short s => (long)s,
        byte b => (long)b,
        uint u => (long)u,
        ulong ul => PyOps.Normalize(ul),
        float f => (double)f,
        decimal m => decimal.Truncate(m) == m ? PyOps.Normalize(new BigInteger(m)) : (double)m,
        JsonNode node => FromJson(node),
        JsonElement element => FromElement(element),
        IDictionary<string, object?> dict => ToDict(dict.Select(p => new KeyValuePair<object?, object?>(p.Key, p.Value))),
        IReadOnlyDictionary<string, object?> dict => ToDict(dict.Select(p => new KeyValuePair<object?, object?>(p.Key, p.Value))),
        System.Collections.IDictionary dict => ToDict(dict.Keys.Cast<object?>().Select(k => new KeyValuePair<object?, object?>(k, dict[k!]))),
        System.Collections.IEnumerable items => items.Cast<object?>().Select(FromClr).ToList(),
        _ => throw new ArgumentException($"a value of type {value.GetType().Name} cannot be passed to a template"),
    };

    static PyDict ToDict(IEnumerable<KeyValuePair<object?, object?>> pairs)
    {
        var dict = new PyDict();
        foreach (var (k, v) in pairs)
            dict.Set(FromClr(k), FromClr(v));
        return dict;
    }
}
