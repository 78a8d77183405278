using System.Collections.Concurrent;

namespace Toolkit.Data.Text.Tokenization.Models;

/// <summary>
/// BPE as Hugging Face runs it: each character (with continuing_subword_prefix after the first and end_of_word_suffix
/// on the last) looked up; unknown ones become their &lt;0xXX&gt; byte tokens (byte_fallback) or unk_token (fused
/// when fuse_unk); then merges applied lowest rank first, leftmost on ties. With ignore_merges, a piece that is itself
/// a token is taken whole. Results are cached per piece. Dropout is not applied (encoding stays deterministic).
/// </summary>
internal sealed class BpeModel : ITokenizerModel
{
    const int CacheCapacity = 10_000;
    const int CacheableLength = 256;

    readonly Vocabulary vocab;
    readonly Dictionary<long, (int Rank, int NewId)> merges;
    readonly string? continuingSubwordPrefix, endOfWordSuffix;
    readonly int? unkId;
    readonly bool fuseUnk, byteFallback, ignoreMerges;
    readonly int[] byteTokenIds;
    readonly ConcurrentDictionary<string, int[]> cache = new(StringComparer.Ordinal);

    BpeModel(Vocabulary vocab, Dictionary<long, (int, int)> merges, string? prefix, string? suffix, int? unkId, bool fuseUnk, bool byteFallback, bool ignoreMerges)
    {
        this.vocab = vocab;
        this.merges = merges;
        continuingSubwordPrefix = prefix;
        endOfWordSuffix = suffix;
        this.unkId = unkId;
        this.fuseUnk = fuseUnk;
        this.byteFallback = byteFallback;
        this.ignoreMerges = ignoreMerges;
        byteTokenIds = new int[256];
        for (int b = 0; b < 256; b++) byteTokenIds[b] = vocab.Ids.TryGetValue($"<0x{b:X2}>", out int id) ? id : -1;
    }

    public int VocabSize => vocab.Ids.Count;
    public int IdLimit => vocab.Tokens.Length;
    public int? TokenToId(string token) => vocab.Ids.TryGetValue(token, out int id) ? id : null;
    public string? IdToToken(int id) => vocab.IdToToken(id);

    public static BpeModel Parse(JsonField block)
    {
        var vocab = Vocabulary.Parse(block.Require("vocab"));
        string? prefix = block.OptString("continuing_subword_prefix");
        string? suffix = block.OptString("end_of_word_suffix");
        string? unk = block.OptString("unk_token");
        if (block.GetNonNull("dropout") is { } dropout && dropout.AsDouble() is < 0 or > 1)
            throw dropout.Error("must be between 0 and 1");
        var mergeMap = new Dictionary<long, (int, int)>();
        int rank = 0;
        foreach (var m in block.Require("merges").Items())
        {
            string a, b;
            if (m.Kind == System.Text.Json.JsonValueKind.String)
            {
                var parts = m.AsString().Split(' ');
                if (parts.Length != 2) throw m.Error("is not a pair \"a b\"");
                (a, b) = (parts[0], parts[1]);
            }
            else
            {
                var items = m.Items().ToList();
                if (items.Count != 2) throw m.Error("is not a pair");
                (a, b) = (items[0].AsString(), items[1].AsString());
            }
            if (!vocab.Ids.TryGetValue(a, out int aId)) throw m.Error($"merges \"{a}\", which is not in model.vocab");
            if (!vocab.Ids.TryGetValue(b, out int bId)) throw m.Error($"merges \"{b}\", which is not in model.vocab");
            int prefixLength = prefix?.Length ?? 0;
            if (b.Length < prefixLength) throw m.Error($"has a right part shorter than the continuing_subword_prefix");
            string merged = a + b[prefixLength..];
            if (!vocab.Ids.TryGetValue(merged, out int newId)) throw m.Error($"makes \"{merged}\", which is not in model.vocab");
            mergeMap[Pair(aId, bId)] = (rank++, newId);
        }
        int? unkId = unk != null && vocab.Ids.TryGetValue(unk, out int u) ? u : null;
        return new BpeModel(vocab, mergeMap, prefix, suffix, unkId, block.OptBool("fuse_unk", false),
            block.OptBool("byte_fallback", false), block.OptBool("ignore_merges", false));
    }

    static long Pair(int a, int b) => ((long)a << 32) | (uint)b;

    public void Tokenize(string piece, List<int> ids)
    {
        if (piece.Length == 0) return;
        if (ignoreMerges && vocab.Ids.TryGetValue(piece, out int whole))
        {
            ids.Add(whole);
            return;
        }
        if (cache.TryGetValue(piece, out var hit))
        {
            ids.AddRange(hit);
            return;
        }
        var word = MergeWord(piece);
        if (piece.Length <= CacheableLength)
        {
            if (cache.Count >= CacheCapacity) cache.Clear();
            cache.TryAdd(piece, word);
        }
        ids.AddRange(word);
    }

    int[] MergeWord(string w)
    {
        var symbols = new List<int>(w.Length);
        int? pendingUnk = null;
        for (int i = 0; i < w.Length;)
        {
            int len = char.IsHighSurrogate(w[i]) && i + 1 < w.Length && char.IsLowSurrogate(w[i + 1]) ? 2 : 1;
            bool isFirst = i == 0, isLast = i + len >= w.Length;
            string s = w.Substring(i, len);
            i += len;
            if (!isFirst && continuingSubwordPrefix != null) s = continuingSubwordPrefix + s;
            if (isLast && endOfWordSuffix != null) s += endOfWordSuffix;
            if (vocab.Ids.TryGetValue(s, out int id))
            {
                if (pendingUnk is { } u) { symbols.Add(u); pendingUnk = null; }
                symbols.Add(id);
                continue;
            }
            if (byteFallback)
            {
                var bytes = System.Text.Encoding.UTF8.GetBytes(s);
                if (bytes.All(b => byteTokenIds[b] >= 0))
                {
                    // Hugging Face adds byte tokens without flushing a pending unknown token first.
                    foreach (byte b in bytes) symbols.Add(byteTokenIds[b]);
                    continue;
                }
            }
            if (unkId is { } unk)
            {
                if (pendingUnk != null && !fuseUnk) symbols.Add(pendingUnk.Value);
                pendingUnk = unk;
            }
        }
        if (pendingUnk is { } last) symbols.Add(last);
        return Merge(symbols);
    }

    int[] Merge(List<int> symbols)
    {
        int n = symbols.Count;
        if (n < 2 || merges.Count == 0) return symbols.ToArray();
        var ids = symbols.ToArray();
        var next = new int[n];
        var prev = new int[n];
        var alive = new bool[n];
        for (int i = 0; i < n; i++) { next[i] = i + 1 < n ? i + 1 : -1; prev[i] = i - 1; alive[i] = true; }
        var queue = new PriorityQueue<(int Pos, int NewId), long>();
        for (int i = 0; i + 1 < n; i++)
            if (merges.TryGetValue(Pair(ids[i], ids[i + 1]), out var m)) queue.Enqueue((i, m.NewId), Priority(m.Rank, i));
        while (queue.TryDequeue(out var top, out _))
        {
            int pos = top.Pos;
            if (!alive[pos] || next[pos] < 0) continue;
            int right = next[pos];
            if (!merges.TryGetValue(Pair(ids[pos], ids[right]), out var current) || current.NewId != top.NewId) continue;
            ids[pos] = current.NewId;
            alive[right] = false;
            next[pos] = next[right];
            if (next[pos] >= 0) prev[next[pos]] = pos;
            if (prev[pos] >= 0 && merges.TryGetValue(Pair(ids[prev[pos]], ids[pos]), out var left))
                queue.Enqueue((prev[pos], left.NewId), Priority(left.Rank, prev[pos]));
            if (next[pos] >= 0 && merges.TryGetValue(Pair(ids[pos], ids[next[pos]]), out var after))
                queue.Enqueue((pos, after.NewId), Priority(after.Rank, pos));
        }
        var result = new List<int>(n);
        for (int i = 0; i >= 0; i = next[i]) result.Add(ids[i]);
        return result.ToArray();
    }

    static long Priority(int rank, int pos) => ((long)rank << 32) | (uint)pos;
}
