using System.Globalization;
using System.Text;
using Toolkit.Data.Text.Tokenization.Models;
using Toolkit.Data.Text.Tokenization.Normalizers;

namespace Toolkit.Data.Text.Tokenization;

/// <summary>
/// The added tokens of a tokenizer and how Hugging Face finds them: leftmost-longest matches, first in the raw text
/// (tokens with normalized=false), then in each normalized remainder (normalized=true, matched by their normalized
/// form); single_word, lstrip and rstrip as in tokenizers' AddedVocabulary. An added token's id is the model's id for
/// its content when the model has one, else the next free id after the model's vocabulary.
/// </summary>
internal sealed class AddedVocabulary
{
    readonly Dictionary<string, int> idOfContent = new(StringComparer.Ordinal);
    readonly Dictionary<int, AddedToken> tokenOfId = [];
    readonly Dictionary<int, string> normalizedForm = [];
    readonly HashSet<string> specialContents = new(StringComparer.Ordinal);
    Matcher raw = new([]), normalized = new([]);

    public IReadOnlyDictionary<int, AddedToken> Tokens => tokenOfId;

    public void Add(IEnumerable<AddedToken> tokens, ITokenizerModel model, INormalizer? normalizer)
    {
        int nextId = tokenOfId.Count == 0 ? model.VocabSize
            : tokenOfId.Keys.Max() is int max && (max >= model.VocabSize || model.VocabSize == 0) ? max + 1 : model.VocabSize;
        foreach (var token in tokens)
        {
            if (token.Content.Length == 0) continue;
            if (idOfContent.TryGetValue(token.Content, out int existing) && tokenOfId[existing] == token) continue;
            int id = idOfContent.TryGetValue(token.Content, out existing) ? existing : model.TokenToId(token.Content) ?? nextId++;
            if (token.Normalized && normalizer != null)
            {
                string form = normalizer.Normalize(token.Content);
                if (form != token.Content) normalizedForm[id] = form;
            }
            idOfContent[token.Content] = id;
            if (token.Special) specialContents.Add(token.Content);
            tokenOfId[id] = token;
        }
        raw = new Matcher(tokenOfId.Where(kv => !kv.Value.Normalized).Select(kv => (kv.Value.Content, kv.Key)));
        normalized = new Matcher(tokenOfId.Where(kv => kv.Value.Normalized)
            .Select(kv => (normalizedForm.TryGetValue(kv.Key, out var f) ? f : kv.Value.Content, kv.Key)));
    }

    public int? TokenToId(string content) => idOfContent.TryGetValue(content, out int id) ? id : null;

    /// <summary>The text decoding shows for an added token (its normalized form for normalized tokens).</summary>
    public string? IdToToken(int id) => tokenOfId.TryGetValue(id, out var t) ? normalizedForm.GetValueOrDefault(id, t.Content) : null;

    public bool IsSpecial(string content) => specialContents.Contains(content);

    public int IdLimit => tokenOfId.Count == 0 ? 0 : tokenOfId.Keys.Max() + 1;

    /// <summary>Splits raw text into added tokens (id) and normalized, not yet pre-tokenized pieces (id -1).</summary>
    public List<(Piece Piece, int Id)> ExtractAndNormalize(string text, INormalizer? normalizer)
    {
        var result = new List<(Piece, int)>();
        foreach (var (piece, id) in Find(new Piece(text, true), raw))
        {
            if (id >= 0) { result.Add((piece, id)); continue; }
            var norm = piece with { Text = normalizer?.Normalize(piece.Text) ?? piece.Text };
            foreach (var (sub, subId) in Find(norm, normalized))
                result.Add((sub, subId));
        }
        return result;
    }

    List<(Piece, int)> Find(Piece piece, Matcher matcher)
    {
        string sentence = piece.Text;
        var splits = new List<(Piece, int)>();
        if (sentence.Length == 0) return splits;
        int startOffset = 0;
        foreach (var (matchStart, matchEnd, id) in matcher.LeftmostLongest(sentence))
        {
            int start = matchStart, stop = matchEnd;
            var token = tokenOfId[id];
            if (token.SingleWord)
            {
                bool startSpace = start == 0 || !IsWordRune(Rune.GetRuneAt(sentence, PreviousRuneStart(sentence, start)));
                bool stopSpace = stop == sentence.Length || !IsWordRune(Rune.GetRuneAt(sentence, stop));
                if (!startSpace || !stopSpace) continue;
            }
            if (token.LStrip)
            {
                int newStart = start;
                while (newStart > 0 && char.IsWhiteSpace(sentence[newStart - 1])) newStart--;
                start = Math.Max(newStart, startOffset);
            }
            if (token.RStrip)
                while (stop < sentence.Length && char.IsWhiteSpace(sentence[stop])) stop++;
            if (startOffset < start) splits.Add((new Piece(sentence[startOffset..start], piece.AtStart && startOffset == 0), -1));
            splits.Add((new Piece(sentence[start..stop], piece.AtStart && start == 0), id));
            startOffset = stop;
        }
        if (startOffset != sentence.Length) splits.Add((new Piece(sentence[startOffset..], piece.AtStart && startOffset == 0), -1));
        return splits;
    }

    static int PreviousRuneStart(string s, int end) =>
        end >= 2 && char.IsLowSurrogate(s[end - 1]) && char.IsHighSurrogate(s[end - 2]) ? end - 2 : end - 1;

    // Rust regex's \w: Alphabetic (letters, letter numbers), marks, decimal digits, connector punctuation, joiners.
    static bool IsWordRune(Rune r) => r.Value is 0x200C or 0x200D || Rune.GetUnicodeCategory(r) is
        UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
        or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter or UnicodeCategory.LetterNumber
        or UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark
        or UnicodeCategory.DecimalDigitNumber or UnicodeCategory.ConnectorPunctuation;

    /// <summary>Leftmost-longest search for a set of strings (non-overlapping, continuing after each match).</summary>
    sealed class Matcher
    {
        readonly Dictionary<char, List<(string Text, int Id)>> byFirst = [];

        public Matcher(IEnumerable<(string Text, int Id)> patterns)
        {
            foreach (var (text, id) in patterns)
            {
                if (text.Length == 0) continue;
                if (!byFirst.TryGetValue(text[0], out var list)) byFirst[text[0]] = list = [];
                list.Add((text, id));
            }
            foreach (var list in byFirst.Values) list.Sort((a, b) => b.Text.Length.CompareTo(a.Text.Length));
        }

        public IEnumerable<(int Start, int End, int Id)> LeftmostLongest(string text)
        {
            if (byFirst.Count == 0) yield break;
            int i = 0;
            while (i < text.Length)
            {
                if (byFirst.TryGetValue(text[i], out var candidates))
                {
                    int found = -1;
                    foreach (var (t, id) in candidates)
                        if (i + t.Length <= text.Length && string.CompareOrdinal(text, i, t, 0, t.Length) == 0) { found = id; yield return (i, i + t.Length, id); i += t.Length; break; }
                    if (found >= 0) continue;
                }
                i++;
            }
        }
    }
}
