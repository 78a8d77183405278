using System.Text.Json;

namespace Toolkit.Data.Text.Tokenization.PostProcessors;

/// <summary>TemplateProcessing: the "single" template, e.g. <c>&lt;s&gt; $A</c>, with the ids of its special tokens.</summary>
internal sealed class TemplateProcessor : IPostProcessor
{
    readonly List<int[]?> pieces; // null = the sequence

    TemplateProcessor(List<int[]?> pieces)
    {
        this.pieces = pieces;
        int seq = pieces.FindIndex(p => p == null);
        var before = new List<int>();
        var after = new List<int>();
        for (int i = 0; i < pieces.Count; i++)
            if (pieces[i] is { } ids) (seq < 0 || i < seq ? before : after).AddRange(ids);
        Added = (before, after);
    }

    public (IReadOnlyList<int> Before, IReadOnlyList<int> After) Added { get; }

    public List<int> Process(List<int> ids, bool addSpecialTokens)
    {
        if (!addSpecialTokens) return ids;
        var result = new List<int>(ids.Count + 4);
        foreach (var p in pieces)
        {
            if (p == null) result.AddRange(ids);
            else result.AddRange(p);
        }
        return result;
    }

    public static TemplateProcessor Parse(JsonField block)
    {
        var special = new Dictionary<string, int[]>(StringComparer.Ordinal);
        if (block.GetNonNull("special_tokens") is { } tokens)
        {
            foreach (var (name, value) in tokens.Members())
            {
                var ids = value.Require("ids").Items().Select(i => i.AsIndex()).ToArray();
                special[value.GetNonNull("id")?.AsString() ?? name] = ids;
            }
        }
        var single = block.Require("single");
        IEnumerable<JsonField> items = single.Kind == JsonValueKind.String
            ? [] : single.Items();
        var pieces = new List<int[]?>();
        if (single.Kind == JsonValueKind.String)
        {
            foreach (string part in single.AsString().Split(' ', StringSplitOptions.RemoveEmptyEntries))
                pieces.Add(FromString(part, special, single));
        }
        foreach (var item in items)
        {
            if (item.Kind == JsonValueKind.String) { pieces.Add(FromString(item.AsString(), special, item)); continue; }
            if (item.GetNonNull("Sequence") is { } seq)
            {
                string id = seq.Require("id").AsString();
                if (id != "A" && id != "B") throw seq.Error($"names sequence \"{id}\" (expected A or B)");
                if (id == "A") pieces.Add(null);
            }
            else if (item.GetNonNull("SpecialToken") is { } tok)
            {
                string id = tok.Require("id").AsString();
                pieces.Add(special.TryGetValue(id, out var ids) ? ids : throw tok.Error($"names the special token \"{id}\", which special_tokens lacks"));
            }
            else throw item.Error("must hold \"Sequence\" or \"SpecialToken\"");
        }
        return new TemplateProcessor(pieces);
    }

    static int[]? FromString(string part, Dictionary<string, int[]> special, JsonField where)
    {
        string id = part.Split(':')[0];
        if (id.StartsWith('$'))
        {
            string rest = id[1..];
            if (rest is "" or "A" or "a" || uint.TryParse(rest, out _)) return null;
            if (rest is "B" or "b") return [];
            throw where.Error($"holds the template piece \"{part}\", which is not a sequence");
        }
        return special.TryGetValue(id, out var ids) ? ids : throw where.Error($"names the special token \"{id}\", which special_tokens lacks");
    }
}
