using System.Text;

namespace Toolkit.Data.Text.Tokenization.Models;

/// <summary>
/// Unigram (SentencePiece's unigram language model, T5/Switch): the Viterbi path over all vocabulary pieces that
/// match, by score; a character no piece covers gets unk_id with the lowest score minus 10, and consecutive unknown
/// characters are fused into one unknown piece. With byte_fallback an unknown piece becomes its &lt;0xXX&gt; tokens.
/// </summary>
internal sealed class UnigramModel : ITokenizerModel
{
    const double UnkPenalty = 10.0;

    readonly string[] pieces;
    readonly double[] scores;
    readonly Dictionary<string, int> ids;
    readonly TrieNode root = new();
    readonly int? unkId;
    readonly bool byteFallback;
    readonly double minScore;

    sealed class TrieNode
    {
        public Dictionary<char, TrieNode>? Children;
        public int Id = -1;
    }

    UnigramModel(List<(string Piece, double Score)> vocab, int? unkId, bool byteFallback)
    {
        pieces = vocab.Select(v => v.Piece).ToArray();
        scores = vocab.Select(v => v.Score).ToArray();
        ids = new Dictionary<string, int>(StringComparer.Ordinal);
        minScore = double.PositiveInfinity;
        for (int i = 0; i < pieces.Length; i++)
        {
            ids[pieces[i]] = i;
            minScore = Math.Min(minScore, scores[i]);
            var node = root;
            foreach (char c in pieces[i])
            {
                node.Children ??= [];
                if (!node.Children.TryGetValue(c, out var child)) node.Children[c] = child = new TrieNode();
                node = child;
            }
            node.Id = i;
        }
        this.unkId = unkId;
        this.byteFallback = byteFallback;
    }

    public int VocabSize => pieces.Length;
    public int IdLimit => pieces.Length;
    public int? TokenToId(string token) => ids.TryGetValue(token, out int id) ? id : null;
    public string? IdToToken(int id) => (uint)id < (uint)pieces.Length ? pieces[id] : null;

    public static UnigramModel Parse(JsonField block)
    {
        var vocab = new List<(string, double)>();
        foreach (var item in block.Require("vocab").Items())
        {
            var pair = item.Items().ToList();
            if (pair.Count != 2) throw item.Error("is not a [piece, score] pair");
            vocab.Add((pair[0].AsString(), pair[1].AsDouble()));
        }
        int? unkId = block.GetNonNull("unk_id")?.AsIndex();
        if (unkId is { } u)
        {
            if (vocab.Count == 0) throw block.Error("has an unk_id but an empty vocab");
            if (u >= vocab.Count) throw block.Require("unk_id").Error($"is {u}, outside the vocab of {vocab.Count} pieces");
        }
        return new UnigramModel(vocab, unkId, block.OptBool("byte_fallback", false));
    }

    public void Tokenize(string sentence, List<int> output)
    {
        if (sentence.Length == 0) return;
        int size = sentence.Length;
        var bestScore = new double[size + 1];
        var startsAt = new int[size + 1];
        var bestId = new int[size + 1];
        Array.Fill(startsAt, -1);
        double unkScore = minScore - UnkPenalty;
        for (int start = 0; start < size;)
        {
            int charLen = char.IsHighSurrogate(sentence[start]) && start + 1 < size && char.IsLowSurrogate(sentence[start + 1]) ? 2 : 1;
            double here = bestScore[start];
            bool hasSingle = false;
            var node = root;
            for (int end = start; end < size; end++)
            {
                if (node.Children is null || !node.Children.TryGetValue(sentence[end], out node)) break;
                if (node.Id < 0) continue;
                int keyPos = end + 1;
                double candidate = scores[node.Id] + here;
                if (startsAt[keyPos] < 0 || candidate > bestScore[keyPos])
                {
                    bestScore[keyPos] = candidate;
                    startsAt[keyPos] = start;
                    bestId[keyPos] = node.Id;
                }
                if (keyPos - start == charLen) hasSingle = true;
            }
            if (!hasSingle && unkId is { } unk)
            {
                int keyPos = start + charLen;
                double candidate = unkScore + here;
                if (startsAt[keyPos] < 0 || candidate > bestScore[keyPos])
                {
                    bestScore[keyPos] = candidate;
                    startsAt[keyPos] = start;
                    bestId[keyPos] = unk;
                }
            }
            start += charLen;
        }
        // Back from the end; consecutive unknown pieces are fused.
        var strings = new List<string>();
        int endsAt = size, fusedEnd = -1;
        while (endsAt > 0)
        {
            int s = startsAt[endsAt];
            if (s < 0)
            {
                // Unreachable only when a character has no piece and there is no unk_id: drop that character.
                s = endsAt - 1;
                if (s > 0 && char.IsLowSurrogate(sentence[s]) && char.IsHighSurrogate(sentence[s - 1])) s--;
                if (fusedEnd >= 0) { strings.Add(sentence[endsAt..fusedEnd]); fusedEnd = -1; }
                endsAt = s;
                continue;
            }
            if (unkId is { } unk && bestId[endsAt] == unk)
            {
                if (fusedEnd < 0) fusedEnd = endsAt;
            }
            else
            {
                if (fusedEnd >= 0) { strings.Add(sentence[endsAt..fusedEnd]); fusedEnd = -1; }
                strings.Add(sentence[s..endsAt]);
            }
            endsAt = s;
        }
        if (fusedEnd >= 0) strings.Add(sentence[0..fusedEnd]);
        strings.Reverse();
        foreach (string piece in strings)
        {
            if (ids.TryGetValue(piece, out int id)) { output.Add(id); continue; }
            if (byteFallback)
            {
                var bytes = Encoding.UTF8.GetBytes(piece);
                var byteIds = new List<int>(bytes.Length);
                foreach (byte b in bytes)
                    if (ids.TryGetValue($"<0x{b:X2}>", out int bid)) byteIds.Add(bid); else { byteIds = null; break; }
                if (byteIds != null) { output.AddRange(byteIds); continue; }
            }
            if (unkId is { } unkFallback) output.Add(unkFallback);
        }
    }
}
