using System.Globalization;
using System.Text.Json;

namespace Toolkit.Data.Text.Tokenization;

/// <summary>
/// A JSON value of a tokenizer file together with its place (file name and path such as <c>model.merges[3]</c>), so
/// that every read that fails throws a <see cref="TokenizerFormatException"/> naming exactly what is wrong.
/// </summary>
internal readonly struct JsonField
{
    public JsonField(JsonElement element, string file, string path)
    {
        Element = element;
        File = file;
        Path = path;
    }

    public JsonElement Element { get; }
    public string File { get; }
    public string Path { get; }
    public JsonValueKind Kind => Element.ValueKind;
    public bool IsNull => Element.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined;

    /// <summary>Parses a whole file's text; anything that is not JSON is a format error.</summary>
    public static JsonDocument Parse(string text, string file)
    {
        try
        {
            return JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 256, AllowTrailingCommas = false });
        }
        catch (JsonException e)
        {
            throw new TokenizerFormatException($"{file}: not valid JSON ({e.Message})", e);
        }
    }

    public TokenizerFormatException Error(string what) =>
        new($"{File}: {(Path.Length == 0 ? "the document" : Path)} {what}");

    string Child(string name) => Path.Length == 0 ? name : $"{Path}.{name}";

    public JsonField RequireObject()
    {
        if (Kind != JsonValueKind.Object) throw Error($"must be an object, not {Describe()}");
        return this;
    }

    public string Describe() => Kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };

    /// <summary>The named member, or null when absent (a JSON null counts as present; check IsNull).</summary>
    public JsonField? Get(string name)
    {
        RequireObject();
        return Element.TryGetProperty(name, out var v) ? new JsonField(v, File, Child(name)) : null;
    }

    /// <summary>The named member when present and not null.</summary>
    public JsonField? GetNonNull(string name) => Get(name) is { IsNull: false } f ? f : null;

    public JsonField Require(string name) =>
        GetNonNull(name) ?? throw Error($"lacks the field \"{name}\"");

    public string AsString()
    {
        if (Kind != JsonValueKind.String) throw Error($"must be a string, not {Describe()}");
        return Element.GetString()!;
    }

    public bool AsBool()
    {
        if (Kind is not (JsonValueKind.True or JsonValueKind.False)) throw Error($"must be true or false, not {Describe()}");
        return Kind == JsonValueKind.True;
    }

    public double AsDouble()
    {
        if (Kind != JsonValueKind.Number || !Element.TryGetDouble(out double d) || !double.IsFinite(d))
            throw Error($"must be a finite number, not {Describe()}");
        return d;
    }

    /// <summary>A non-negative integer that fits an int (token ids, counts).</summary>
    public int AsIndex()
    {
        if (Kind != JsonValueKind.Number || !Element.TryGetInt64(out long v) || v < 0 || v > int.MaxValue)
            throw Error($"must be a non-negative integer, not {(Kind == JsonValueKind.Number ? Element.GetRawText() : Describe())}");
        return (int)v;
    }

    /// <summary>A single character (Metaspace's replacement, Strip's content): exactly one code point.</summary>
    public string AsChar()
    {
        string s = AsString();
        if (s.Length == 0 || s.Length > 2 || (s.Length == 2 && !char.IsSurrogatePair(s[0], s[1])) || (s.Length == 1 && char.IsSurrogate(s[0])))
            throw Error($"must be a single character, not \"{s}\"");
        return s;
    }

    public IEnumerable<JsonField> Items()
    {
        if (Kind != JsonValueKind.Array) throw Error($"must be an array, not {Describe()}");
        int i = 0;
        foreach (var item in Element.EnumerateArray())
            yield return new JsonField(item, File, $"{Path}[{i++}]");
    }

    public IEnumerable<(string Name, JsonField Value)> Members()
    {
        RequireObject();
        foreach (var p in Element.EnumerateObject())
            yield return (p.Name, new JsonField(p.Value, File, Child(p.Name)));
    }

    public int ArrayLength => Kind == JsonValueKind.Array ? Element.GetArrayLength() : throw Error($"must be an array, not {Describe()}");

    public string? OptString(string name) => GetNonNull(name)?.AsString();
    public bool OptBool(string name, bool fallback) => GetNonNull(name)?.AsBool() ?? fallback;
    public int OptIndex(string name, int fallback) => GetNonNull(name)?.AsIndex() ?? fallback;

    /// <summary>The block's "type" field.</summary>
    public string TypeName() => Require("type").AsString();

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{File}:{Path}");
}
