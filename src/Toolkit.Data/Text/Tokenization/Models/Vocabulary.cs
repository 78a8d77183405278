namespace Toolkit.Data.Text.Tokenization.Models;

/// <summary>A token → id map read from a tokenizer.json object, and its inverse.</summary>
internal sealed class Vocabulary
{
    public Vocabulary(Dictionary<string, int> ids)
    {
        Ids = ids;
        int limit = 0;
        foreach (int id in ids.Values) limit = Math.Max(limit, id + 1);
        Tokens = new string?[limit];
        foreach (var (token, id) in ids) Tokens[id] = token;
    }

    public Dictionary<string, int> Ids { get; }
    public string?[] Tokens { get; }

    public string? IdToToken(int id) => (uint)id < (uint)Tokens.Length ? Tokens[id] : null;

    /// <summary>Reads {"token": id, ...}; ids must be below <paramref name="maxId"/> (a guard against absurd tables).</summary>
    public static Vocabulary Parse(JsonField field, int maxId = 1 << 24)
    {
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (name, value) in field.Members())
        {
            int id = value.AsIndex();
            if (id >= maxId) throw value.Error($"is an id of {id}, beyond any vocabulary this reader accepts ({maxId})");
            ids[name] = id;
        }
        return new Vocabulary(ids);
    }
}
