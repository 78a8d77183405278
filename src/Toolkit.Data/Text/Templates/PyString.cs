using System.Globalization;
using System.Text;

namespace Toolkit.Data.Text.Templates;

/// <summary>
/// Python <c>str</c> semantics over .NET strings: lengths, indices and slices count code points (not UTF-16 units),
/// whitespace is Python's <c>str.isspace</c>, and strip/split/splitlines/title/capitalize behave as in Python.
/// </summary>
internal static class PyString
{
    /// <summary>Python's <c>str.isspace</c> (also what <c>\s</c> matches in jinja2's regular expressions).</summary>
    public static bool IsSpace(char c) => c switch
    {
        '\t' or '\n' or '\v' or '\f' or '\r' or '\x1c' or '\x1d' or '\x1e' or '\x1f' or ' ' or '\x85' or '\xa0' => true,
        '\u1680' or '\u2028' or '\u2029' or '\u202f' or '\u205f' or '\u3000' => true,
        >= '\u2000' and <= '\u200a' => true,
        _ => false,
    };

    static bool HasSurrogates(string s)
    {
        foreach (char c in s)
            if (char.IsSurrogate(c))
                return true;
        return false;
    }

    /// <summary>The string's code points, or null when every code point is one UTF-16 unit.</summary>
    static int[]? CodePoints(string s)
    {
        if (!HasSurrogates(s))
            return null;
        var list = new List<int>(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                list.Add(char.ConvertToUtf32(s[i], s[i + 1]));
                i++;
            }
            else
                list.Add(s[i]);
        }
        return [.. list];
    }

    static string FromCodePoints(IEnumerable<int> codePoints)
    {
        var sb = new StringBuilder();
        foreach (int cp in codePoints)
            AppendCodePoint(sb, cp);
        return sb.ToString();
    }

    static void AppendCodePoint(StringBuilder sb, int cp)
    {
        if (cp <= 0xFFFF)
            sb.Append((char)cp);
        else
            sb.Append(char.ConvertFromUtf32(cp));
    }

    /// <summary><c>len(s)</c>.</summary>
    public static int Length(string s) => CodePoints(s)?.Length ?? s.Length;

    /// <summary><c>s[i]</c> for 0 &lt;= i &lt; len(s).</summary>
    public static string At(string s, int index)
    {
        int[]? cps = CodePoints(s);
        return cps is null ? s[index].ToString() : FromCodePoints([cps[index]]);
    }

    /// <summary><c>s[start:stop:step]</c> with already-resolved indices (see <see cref="PyOps.SliceIndices"/>).</summary>
    public static string Slice(string s, IEnumerable<int> indices)
    {
        int[]? cps = CodePoints(s);
        var sb = new StringBuilder();
        foreach (int i in indices)
        {
            if (cps is null)
                sb.Append(s[i]);
            else
                AppendCodePoint(sb, cps[i]);
        }
        return sb.ToString();
    }

    /// <summary>Converts a UTF-16 index into a code-point index.</summary>
    public static int CodePointIndex(string s, int utf16Index)
    {
        int count = 0;
        for (int i = 0; i < utf16Index; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
                i++;
            count++;
        }
        return count;
    }

    /// <summary>Converts a code-point index (0..len) into a UTF-16 index.</summary>
    public static int Utf16Index(string s, int codePointIndex)
    {
        int i = 0;
        for (int count = 0; count < codePointIndex && i < s.Length; count++)
            i += char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]) ? 2 : 1;
        return i;
    }

    /// <summary>Compares two strings by code point, as Python orders str values.</summary>
    public static int Compare(string a, string b)
    {
        if (!HasSurrogates(a) && !HasSurrogates(b))
            return Math.Sign(string.CompareOrdinal(a, b));
        int[] x = CodePoints(a) ?? a.Select(c => (int)c).ToArray();
        int[] y = CodePoints(b) ?? b.Select(c => (int)c).ToArray();
        for (int i = 0; i < Math.Min(x.Length, y.Length); i++)
            if (x[i] != y[i])
                return x[i] < y[i] ? -1 : 1;
        return x.Length.CompareTo(y.Length);
    }

    static Func<int, bool> CharSet(string? chars)
    {
        if (chars is null)
            return cp => cp <= 0xFFFF && IsSpace((char)cp);
        var set = new HashSet<int>(CodePoints(chars) ?? chars.Select(c => (int)c));
        return set.Contains;
    }

    /// <summary><c>s.strip(chars)</c>.</summary>
    public static string Strip(string s, string? chars = null) => StripCore(s, chars, left: true, right: true);

    /// <summary><c>s.lstrip(chars)</c>.</summary>
    public static string LStrip(string s, string? chars = null) => StripCore(s, chars, left: true, right: false);

    /// <summary><c>s.rstrip(chars)</c>.</summary>
    public static string RStrip(string s, string? chars = null) => StripCore(s, chars, left: false, right: true);

    static string StripCore(string s, string? chars, bool left, bool right)
    {
        var strip = CharSet(chars);
        int[] cps = CodePoints(s) ?? s.Select(c => (int)c).ToArray();
        int start = 0, end = cps.Length;
        if (left)
            while (start < end && strip(cps[start]))
                start++;
        if (right)
            while (end > start && strip(cps[end - 1]))
                end--;
        return start == 0 && end == cps.Length ? s : FromCodePoints(cps[start..end]);
    }

    /// <summary><c>s.split(sep, maxsplit)</c>.</summary>
    public static List<object?> Split(string s, string? sep, long maxSplit)
    {
        var result = new List<object?>();
        if (sep is null)
        {
            int i = 0;
            while (true)
            {
                while (i < s.Length && IsSpace(s[i]))
                    i++;
                if (i >= s.Length)
                    break;
                if (maxSplit >= 0 && result.Count >= maxSplit)
                {
                    result.Add(RStrip(s[i..]));
                    break;
                }
                int j = i;
                while (j < s.Length && !IsSpace(s[j]))
                    j++;
                result.Add(s[i..j]);
                i = j;
            }
            return result;
        }
        if (sep.Length == 0)
            throw new TemplateException("empty separator") { Kind = "ValueError" };
        int start = 0;
        while (maxSplit < 0 || result.Count < maxSplit)
        {
            int at = s.IndexOf(sep, start, StringComparison.Ordinal);
            if (at < 0)
                break;
            result.Add(s[start..at]);
            start = at + sep.Length;
        }
        result.Add(s[start..]);
        return result;
    }

    /// <summary><c>s.rsplit(sep, maxsplit)</c>.</summary>
    public static List<object?> RSplit(string s, string? sep, long maxSplit)
    {
        if (maxSplit < 0)
            return Split(s, sep, maxSplit);
        var result = new List<object?>();
        if (sep is null)
        {
            int i = s.Length;
            while (true)
            {
                while (i > 0 && IsSpace(s[i - 1]))
                    i--;
                if (i <= 0)
                    break;
                if (result.Count >= maxSplit)
                {
                    result.Add(LStrip(s[..i]));
                    break;
                }
                int j = i;
                while (j > 0 && !IsSpace(s[j - 1]))
                    j--;
                result.Add(s[j..i]);
                i = j;
            }
            result.Reverse();
            return result;
        }
        if (sep.Length == 0)
            throw new TemplateException("empty separator") { Kind = "ValueError" };
        int end = s.Length;
        while (result.Count < maxSplit)
        {
            int at = end - sep.Length < 0 ? -1 : s.LastIndexOf(sep, end - 1, StringComparison.Ordinal);
            if (at < 0 || at + sep.Length > end)
                break;
            result.Add(s[(at + sep.Length)..end]);
            end = at;
        }
        result.Add(s[..end]);
        result.Reverse();
        return result;
    }

    static bool IsLineBreak(char c) => c is '\n' or '\r' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029';

    /// <summary><c>s.splitlines(keepends)</c>.</summary>
    public static List<string> SplitLines(string s, bool keepEnds = false)
    {
        var lines = new List<string>();
        int start = 0;
        for (int i = 0; i < s.Length; i++)
        {
            if (!IsLineBreak(s[i]))
                continue;
            int end = i;
            if (s[i] == '\r' && i + 1 < s.Length && s[i + 1] == '\n')
                i++;
            lines.Add(keepEnds ? s[start..(i + 1)] : s[start..end]);
            start = i + 1;
        }
        if (start < s.Length)
            lines.Add(s[start..]);
        return lines;
    }

    /// <summary><c>s.upper()</c> (invariant case mapping, plus the common full mapping of ß to SS).</summary>
    public static string Upper(string s) => s.ToUpperInvariant().Replace("ß", "SS");

    /// <summary><c>s.lower()</c>.</summary>
    public static string Lower(string s) => s.ToLowerInvariant();

    static bool IsCased(Rune r)
    {
        var category = Rune.GetUnicodeCategory(r);
        return category is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter;
    }

    /// <summary><c>s.title()</c>: a cased character after an uncased one is upper-cased, others lower-cased.</summary>
    public static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool previousCased = false;
        foreach (Rune r in s.EnumerateRunes())
        {
            sb.Append((previousCased ? Rune.ToLowerInvariant(r) : Rune.ToUpperInvariant(r)).ToString());
            previousCased = IsCased(r);
        }
        return sb.ToString();
    }

    /// <summary><c>s.capitalize()</c>: first character upper-cased, the rest lower-cased.</summary>
    public static string Capitalize(string s)
    {
        if (s.Length == 0)
            return s;
        var first = Rune.GetRuneAt(s, 0);
        return Rune.ToUpperInvariant(first).ToString() + s[first.Utf16SequenceLength..].ToLowerInvariant();
    }

    /// <summary><c>s.swapcase()</c>.</summary>
    public static string SwapCase(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (Rune r in s.EnumerateRunes())
            sb.Append((Rune.IsUpper(r) ? Rune.ToLowerInvariant(r) : Rune.IsLower(r) ? Rune.ToUpperInvariant(r) : r).ToString());
        return sb.ToString();
    }

    /// <summary><c>s.replace(old, new, count)</c>.</summary>
    public static string Replace(string s, string oldValue, string newValue, long count)
    {
        if (count == 0)
            return s;
        long occurrences = Math.Min(Count(s, oldValue), count < 0 ? long.MaxValue : count);
        if (s.Length + occurrences * Math.Max(0, newValue.Length - oldValue.Length) > Renderer.MaxLength)
            throw new TemplateException($"value too large: more than {Renderer.MaxLength} characters") { Kind = "MemoryError" };
        if (oldValue.Length == 0)
        {
            int[] cps = CodePoints(s) ?? s.Select(c => (int)c).ToArray();
            var sb = new StringBuilder();
            long done = 0;
            for (int i = 0; i <= cps.Length; i++)
            {
                if (count < 0 || done < count)
                {
                    sb.Append(newValue);
                    done++;
                }
                if (i < cps.Length)
                    AppendCodePoint(sb, cps[i]);
            }
            return sb.ToString();
        }
        if (count < 0)
            return s.Replace(oldValue, newValue, StringComparison.Ordinal);
        var result = new StringBuilder();
        int start = 0;
        for (long n = 0; n < count; n++)
        {
            int at = s.IndexOf(oldValue, start, StringComparison.Ordinal);
            if (at < 0)
                break;
            result.Append(s, start, at - start).Append(newValue);
            start = at + oldValue.Length;
        }
        return result.Append(s, start, s.Length - start).ToString();
    }

    /// <summary><c>s.count(sub)</c> (non-overlapping).</summary>
    public static int Count(string s, string sub)
    {
        if (sub.Length == 0)
            return Length(s) + 1;
        int count = 0;
        for (int i = s.IndexOf(sub, StringComparison.Ordinal); i >= 0; i = s.IndexOf(sub, i + sub.Length, StringComparison.Ordinal))
            count++;
        return count;
    }

    /// <summary><c>s.center(width, fill)</c>.</summary>
    public static string Center(string s, int width, string fill = " ")
    {
        int length = Length(s);
        if (width <= length)
            return s;
        int marg = width - length;
        int left = marg / 2 + (marg & width & 1);
        return string.Concat(Enumerable.Repeat(fill, left)) + s + string.Concat(Enumerable.Repeat(fill, marg - left));
    }

    /// <summary>True when every code point satisfies <paramref name="predicate"/> (and the string is not empty).</summary>
    public static bool All(string s, Func<Rune, bool> predicate)
    {
        if (s.Length == 0)
            return false;
        foreach (Rune r in s.EnumerateRunes())
            if (!predicate(r))
                return false;
        return true;
    }
}
