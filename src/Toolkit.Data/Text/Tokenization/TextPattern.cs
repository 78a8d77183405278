using System.Text;

namespace Toolkit.Data.Text.Tokenization;

/// <summary>How a split keeps the matches of its pattern (Hugging Face's SplitDelimiterBehavior).</summary>
internal enum SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous }

/// <summary>
/// What a pre-tokenizer splits on: a regular expression, a literal string, or a per-character test; optionally
/// inverted. <see cref="Split"/> reproduces Hugging Face's NormalizedString.split exactly, including how each
/// <see cref="SplitBehavior"/> merges matches and gaps; empty pieces are dropped.
/// </summary>
internal sealed class TextPattern
{
    readonly OnigRegex? regex;
    readonly string? literal;
    readonly Func<int, bool>? predicate;

    TextPattern(OnigRegex? regex, string? literal, Func<int, bool>? predicate, bool invert)
    {
        this.regex = regex;
        this.literal = literal;
        this.predicate = predicate;
        Invert = invert;
    }

    public bool Invert { get; }

    public static TextPattern Regex(OnigRegex regex, bool invert = false) => new(regex, null, null, invert);
    public static TextPattern Literal(string text, bool invert = false) => new(null, text, null, invert);
    public static TextPattern Chars(Func<int, bool> predicate, bool invert = false) => new(null, null, predicate, invert);

    /// <summary>Spans covering the whole text, each flagged whether it is a match.</summary>
    public List<(int Start, int End, bool Match)> FindMatches(string text)
    {
        var spans = new List<(int, int, bool)>();
        if (text.Length == 0)
        {
            spans.Add((0, 0, false));
        }
        else if (predicate != null)
        {
            int lastOffset = 0;
            for (int i = 0; i < text.Length;)
            {
                int len = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
                int cp = len == 2 ? char.ConvertToUtf32(text[i], text[i + 1]) : text[i];
                if (predicate(cp))
                {
                    if (lastOffset < i) spans.Add((lastOffset, i, false));
                    spans.Add((i, i + len, true));
                    lastOffset = i + len;
                }
                i += len;
            }
            if (lastOffset < text.Length) spans.Add((lastOffset, text.Length, false));
        }
        else if (literal != null && literal.Length == 0)
        {
            spans.Add((0, text.Length, false));
        }
        else
        {
            IEnumerable<(int Start, int End)> matches = regex != null ? regex.Matches(text) : LiteralMatches(text, literal!);
            int prev = 0;
            foreach (var (s, e) in matches)
            {
                if (prev != s) spans.Add((prev, s, false));
                spans.Add((s, e, true));
                prev = e;
            }
            if (prev != text.Length) spans.Add((prev, text.Length, false));
        }
        if (Invert)
            for (int i = 0; i < spans.Count; i++) spans[i] = (spans[i].Item1, spans[i].Item2, !spans[i].Item3);
        return spans;
    }

    static IEnumerable<(int, int)> LiteralMatches(string text, string literal)
    {
        int at = 0;
        while (at <= text.Length - literal.Length)
        {
            int i = text.IndexOf(literal, at, StringComparison.Ordinal);
            if (i < 0) yield break;
            yield return (i, i + literal.Length);
            at = i + literal.Length;
        }
    }

    /// <summary>Splits one piece, appending the non-empty results to <paramref name="output"/>.</summary>
    public void Split(Piece piece, SplitBehavior behavior, List<Piece> output)
    {
        string text = piece.Text;
        var matches = FindMatches(text);
        var spans = new List<(int Start, int End, bool Remove)>(matches.Count);
        switch (behavior)
        {
            case SplitBehavior.Isolated:
                foreach (var (s, e, _) in matches) spans.Add((s, e, false));
                break;
            case SplitBehavior.Removed:
                foreach (var (s, e, m) in matches) spans.Add((s, e, m));
                break;
            case SplitBehavior.Contiguous:
            {
                bool previous = false;
                foreach (var (s, e, m) in matches)
                {
                    if (m == previous && spans.Count > 0) spans[^1] = (spans[^1].Start, e, false);
                    else spans.Add((s, e, false));
                    previous = m;
                }
                break;
            }
            case SplitBehavior.MergedWithPrevious:
            {
                bool previous = false;
                foreach (var (s, e, m) in matches)
                {
                    if (m && !previous && spans.Count > 0) spans[^1] = (spans[^1].Start, e, false);
                    else spans.Add((s, e, false));
                    previous = m;
                }
                break;
            }
            case SplitBehavior.MergedWithNext:
            {
                bool previous = false;
                for (int i = matches.Count - 1; i >= 0; i--)
                {
                    var (s, e, m) = matches[i];
                    if (m && !previous && spans.Count > 0) spans[^1] = (s, spans[^1].End, false);
                    else spans.Add((s, e, false));
                    previous = m;
                }
                spans.Reverse();
                break;
            }
        }
        foreach (var (s, e, remove) in spans)
            if (!remove && e > s) output.Add(new Piece(text[s..e], piece.AtStart && s == 0));
    }

    public static SplitBehavior ParseBehavior(JsonField field) => field.AsString() switch
    {
        "Removed" => SplitBehavior.Removed,
        "Isolated" => SplitBehavior.Isolated,
        "MergedWithPrevious" => SplitBehavior.MergedWithPrevious,
        "MergedWithNext" => SplitBehavior.MergedWithNext,
        "Contiguous" => SplitBehavior.Contiguous,
        var other => throw field.Error($"names an unknown split behavior \"{other}\" (expected Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous)"),
    };

    /// <summary>A {"String": s} or {"Regex": r} pattern object of tokenizer.json.</summary>
    public static (string? Literal, OnigRegex? Regex) ParsePatternObject(JsonField field)
    {
        field.RequireObject();
        if (field.GetNonNull("String") is { } s) return (s.AsString(), null);
        if (field.GetNonNull("Regex") is { } r) return (null, new OnigRegex(r.AsString(), r));
        throw field.Error("must hold \"String\" or \"Regex\"");
    }

    /// <summary>Unicode code-point helpers shared by the blocks (Rust's char predicates).</summary>
    public static bool IsWhitespace(int cp) => cp is >= 0x9 and <= 0xD or 0x20 or 0x85 or 0xA0 or 0x1680 or (>= 0x2000 and <= 0x200A) or 0x2028 or 0x2029 or 0x202F or 0x205F or 0x3000;

    public static bool IsNumeric(int cp) => System.Globalization.CharUnicodeInfo.GetUnicodeCategory(cp) is
        System.Globalization.UnicodeCategory.DecimalDigitNumber or System.Globalization.UnicodeCategory.LetterNumber or System.Globalization.UnicodeCategory.OtherNumber;

    public static bool IsPunctuation(int cp) => (cp < 0x80 && char.IsAsciiLetterOrDigit((char)cp) == false && cp > 0x20 && cp < 0x7F)
        || System.Globalization.CharUnicodeInfo.GetUnicodeCategory(cp) is System.Globalization.UnicodeCategory.ConnectorPunctuation
            or System.Globalization.UnicodeCategory.DashPunctuation or System.Globalization.UnicodeCategory.OpenPunctuation
            or System.Globalization.UnicodeCategory.ClosePunctuation or System.Globalization.UnicodeCategory.InitialQuotePunctuation
            or System.Globalization.UnicodeCategory.FinalQuotePunctuation or System.Globalization.UnicodeCategory.OtherPunctuation;

    /// <summary>Replaces every occurrence of <paramref name="from"/> (ordinal).</summary>
    public static string ReplaceLiteral(string text, string from, string to) =>
        from.Length == 0 ? text : text.Replace(from, to, StringComparison.Ordinal);
}
