using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsCheck;

namespace Fuzzing;

/// <summary>
/// Generators of damaged JSON documents: values replaced by values of other types or absurd sizes (negative, zero,
/// 2^31, 2^63, 1e400), numbers turned into strings, keys dropped, renamed or added (from a list of keys the loader
/// knows, so that added keys matter), the root replaced, one to three at a time; a quarter of them also damaged as
/// text (truncated, bytes flipped or inserted), which mostly makes them invalid JSON.
/// </summary>
public static class JsonMutations
{
    /// <summary>JSON texts swapped in for values: every JSON type, the integer limits, sizes no machine can allocate.</summary>
    static readonly string[] Values =
    [
        "null", "true", "false", "0", "-1", "1", "2", "3", "5", "64", "0.5", "-0.0", "1e-300", "1.0", "2.5",
        "65535", "65536", "1048576", "16777216", "1073741824", "2147483647", "2147483648", "-2147483648", "-2147483649",
        "4294967296", "9223372036854775807", "9223372036854775808", "18446744073709551616", "1e308", "-1e308", "1e400",
        "\"\"", "\"x\"", "\"8\"", "\"silu\"", "\"true\"", "\"NaN\"", "\"mixtral\"", "\"model.safetensors\"", "\"../x\"", "\"F32\"",
        "[]", "[1]", "[-1]", "[0, 1, 2]", "[\"a\"]", "[null]", "[[1]]", "{}", "{\"a\": 1}", "{\"rope_type\": \"yarn\"}",
        "{\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}",
        new string('[', 100) + new string(']', 100), // deeper than System.Text.Json's default limit of 64
    ];

    public static Gen<Mutant> Of(string json, params string[] knownKeys)
    {
        var original = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true })
            ?? throw new ArgumentException("the original document is null");
        string[] keys = [.. knownKeys, .. Keys(original), "__metadata__", "", "\u00e9\u4e2d", "x"];
        var value = Gen.OneOf(Values);
        var step = Gen.Frequency(
            (5, Gen.Select(Gen.Int[0, 1 << 20], value, (i, v) => new Step(r => Replace(r, i, $"with {Short(v)}", _ => Parse(v))))),
            (2, Gen.Int[0, 1 << 20].Select(i => new Step(r => Replace(r, i, "with its text as a string", n => JsonValue.Create(n?.ToJsonString(DeepWriter) ?? "null"))))),
            (1, Gen.Int[0, 1 << 20].Select(i => new Step(r => Replace(r, i, "scaled by 10^6", Scale)))),
            (3, Gen.Int[0, 1 << 20].Select(i => new Step(r => Drop(r, i)))),
            (2, Gen.Select(Gen.Int[0, 1 << 20], Gen.OneOf(keys), value, (i, k, v) => new Step(r => Add(r, i, k, Parse(v), Short(v))))),
            (1, Gen.Select(Gen.Int[0, 1 << 20], Gen.OneOf(keys), (i, k) => new Step(r => Rename(r, i, k)))),
            (1, value.Select(v => new Step(_ => (Parse(v), $"replace the document with {Short(v)}")))));
        var structural = Gen.Int[1, 3].SelectMany(n => step.Array[n]).Select(steps =>
        {
            JsonNode? r = original.DeepClone();
            var names = new List<string>();
            foreach (var s in steps)
            {
                (r, string name) = s.Apply(r);
                names.Add(name);
            }
            return new Mutant(string.Join(", then ", names), Encoding.UTF8.GetBytes(r?.ToJsonString(DeepWriter) ?? "null"));
        });
        return Gen.Frequency((3, structural), (1, structural.SelectMany(m => ByteMutations.Of(m.Bytes).Select(t => t with { Description = m.Description + ", then as text: " + t.Description }))));
    }

    /// <summary>One edit: the new root and what was done (with the JSON path it touched).</summary>
    sealed record Step(Func<JsonNode?, (JsonNode?, string)> Apply);

    static string Short(string v) => v.Length > 40 ? v[..20] + "..." : v;

    static readonly JsonDocumentOptions Deep = new() { MaxDepth = 256 };
    static readonly JsonSerializerOptions DeepWriter = new() { MaxDepth = 256 };

    static JsonNode? Parse(string text) => JsonNode.Parse(text, documentOptions: Deep);

    static JsonNode? Scale(JsonNode? n) =>
        n is JsonValue v && v.GetValueKind() == JsonValueKind.Number && double.TryParse(v.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture, out double d)
            ? JsonNode.Parse((d == 0 ? 1 : Math.Abs(d)) * 1e6 is var big && double.IsFinite(big) ? big.ToString("R", System.Globalization.CultureInfo.InvariantCulture) : "1e400")
            : n;

    static IEnumerable<string> Keys(JsonNode? node) => node switch
    {
        JsonObject o => o.SelectMany(p => Keys(p.Value).Prepend(p.Key)),
        JsonArray a => a.SelectMany(Keys),
        _ => [],
    };

    /// <summary>Every value in document order with the container holding it (null for the root).</summary>
    static List<(JsonNode? Parent, string? Key, int Index, JsonNode? Node)> Slots(JsonNode? root)
    {
        var list = new List<(JsonNode?, string?, int, JsonNode?)>();
        void Walk(JsonNode? parent, string? key, int index, JsonNode? node)
        {
            list.Add((parent, key, index, node));
            if (node is JsonObject o) foreach (var p in o.ToList()) Walk(o, p.Key, -1, p.Value);
            else if (node is JsonArray a) for (int i = 0; i < a.Count; i++) Walk(a, null, i, a[i]);
        }
        Walk(null, null, -1, root);
        return list;
    }

    static string PathOf(JsonNode? parent, string? key, int index) => parent switch
    {
        JsonObject => $"{parent.GetPath()}.{key}".Replace("$.", ""),
        JsonArray => $"{parent.GetPath()}[{index}]".Replace("$.", ""),
        _ => "the document",
    };

    static (JsonNode?, string) Replace(JsonNode? root, int pick, string what, Func<JsonNode?, JsonNode?> with)
    {
        var slots = Slots(root);
        var (parent, key, index, node) = slots[pick % slots.Count];
        string name = $"replace {PathOf(parent, key, index)} {what}";
        var replacement = with(node?.DeepClone());
        switch (parent)
        {
            case JsonObject o: o[key!] = replacement; return (root, name);
            case JsonArray a: a[index] = replacement; return (root, name);
            default: return (replacement, name);
        }
    }

    static (JsonNode?, string) Drop(JsonNode? root, int pick)
    {
        var properties = Slots(root).Where(s => s.Parent is JsonObject).ToList();
        if (properties.Count == 0) return (root, "drop nothing");
        var (parent, key, _, _) = properties[pick % properties.Count];
        string name = $"drop {PathOf(parent, key, -1)}";
        ((JsonObject)parent!).Remove(key!);
        return (root, name);
    }

    static (JsonNode?, string) Add(JsonNode? root, int pick, string key, JsonNode? value, string text)
    {
        var objects = Slots(root).Select(s => s.Node).OfType<JsonObject>().ToList();
        if (objects.Count == 0) return (root, "add nothing");
        var target = objects[pick % objects.Count];
        target[key] = value;
        return (root, $"set {PathOf(target, key, -1)} to {text}");
    }

    static (JsonNode?, string) Rename(JsonNode? root, int pick, string key)
    {
        var properties = Slots(root).Where(s => s.Parent is JsonObject).ToList();
        if (properties.Count == 0) return (root, "rename nothing");
        var (parent, old, _, node) = properties[pick % properties.Count];
        string name = $"rename {PathOf(parent, old, -1)} to '{key}'";
        var o = (JsonObject)parent!;
        o.Remove(old!);
        o[key] = node;
        return (root, name);
    }
}
