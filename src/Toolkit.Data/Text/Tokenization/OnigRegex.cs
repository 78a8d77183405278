using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Toolkit.Data.Text.Tokenization;

/// <summary>
/// A regular expression of a tokenizer.json (written for Oniguruma, which Hugging Face tokenizers uses) run with .NET's
/// <see cref="Regex"/>. Oniguruma matches Unicode code points while .NET matches UTF-16 code units, so a character
/// outside the Basic Multilingual Plane (emoji, CJK extension B) would be two "characters" to .NET and fail
/// <c>\p{L}</c> or be split by <c>[^\s\p{L}\p{N}]?</c>. Before matching, each such character is replaced by one BMP
/// stand-in of the same Unicode general category; match positions are mapped back to the original text.
/// Iteration follows Oniguruma's: an empty match right at the end of the previous match is skipped.
/// </summary>
internal sealed class OnigRegex
{
    readonly Regex regex;

    public OnigRegex(string pattern, JsonField where)
    {
        Pattern = pattern;
        try
        {
            // Oniguruma's Ruby syntax: ^ and $ are line anchors.
            regex = new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.Multiline | RegexOptions.Compiled, TimeSpan.FromSeconds(10));
        }
        catch (ArgumentException e)
        {
            throw where.Error($"holds a regular expression this tokenizer cannot run: /{pattern}/ ({e.Message})");
        }
    }

    public string Pattern { get; }

    /// <summary>Matches as (start, end) UTF-16 offsets into <paramref name="text"/>, in order, non-overlapping.</summary>
    public List<(int Start, int End)> Matches(string text)
    {
        var result = new List<(int, int)>();
        string subject = text;
        int[]? map = null;
        if (HasSurrogate(text)) (subject, map) = Substitute(text);
        int lastEnd = -1;
        for (var m = regex.Match(subject); m.Success; m = m.NextMatch())
        {
            int start = m.Index, end = m.Index + m.Length;
            if (start == end && start == lastEnd) continue;
            lastEnd = end;
            result.Add(map is null ? (start, end) : (map[start], map[end]));
        }
        return result;
    }

    /// <summary>Replaces every match with <paramref name="content"/> (Replace normalizer and decoder).</summary>
    public string Replace(string text, string content)
    {
        var matches = Matches(text);
        if (matches.Count == 0) return text;
        var sb = new StringBuilder(text.Length);
        int prev = 0;
        foreach (var (s, e) in matches)
        {
            sb.Append(text, prev, s - prev).Append(content);
            prev = e;
        }
        return sb.Append(text, prev, text.Length - prev).ToString();
    }

    static bool HasSurrogate(string s)
    {
        foreach (char c in s) if (char.IsSurrogate(c)) return true;
        return false;
    }

    static (string, int[]) Substitute(string text)
    {
        var sb = new StringBuilder(text.Length);
        var map = new List<int>(text.Length + 1);
        for (int i = 0; i < text.Length;)
        {
            map.Add(i);
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                int cp = char.ConvertToUtf32(text[i], text[i + 1]);
                sb.Append(StandIn[(int)CharUnicodeInfo.GetUnicodeCategory(cp)]);
                i += 2;
            }
            else
            {
                sb.Append(char.IsSurrogate(text[i]) ? '\uFFFD' : text[i]);
                i++;
            }
        }
        map.Add(text.Length);
        return (sb.ToString(), map.ToArray());
    }

    // One BMP character per general category, taken from blocks that tokenizer patterns do not name literally
    // (not ASCII, not CJK or kana, not whitespace).
    static readonly char[] StandIn = BuildStandIns();

    static char[] BuildStandIns()
    {
        var table = new char[32];
        Array.Fill(table, '\uE000');
        var found = new bool[32];
        foreach (var (lo, hi) in new[] { (0xA000, 0xFFEF), (0x0100, 0x2FFF), (0xA000, 0xA000) })
        {
            for (int c = lo; c <= hi; c++)
            {
                if (c is >= 0xD800 and <= 0xDFFF || char.IsWhiteSpace((char)c)) continue;
                int cat = (int)CharUnicodeInfo.GetUnicodeCategory((char)c);
                if (!found[cat]) { found[cat] = true; table[cat] = (char)c; }
            }
        }
        return table;
    }
}
