using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;

namespace Toolkit.Data.Text;

/// <summary>One dictionary entry as plain English: the headword and its definitions.</summary>
public sealed record GcideEntry(string Headword, string Text);

/// <summary>
/// Reads the GNU Collaborative International Dictionary of English (Debian package dict-gcide,
/// <c>/usr/share/dictd/gcide.dict.dz</c>, a gzip-readable dictd file) and strips its markup
/// (pronunciations, accent codes, cross-reference braces, source tags, citations) into plain text.
/// </summary>
public static partial class GcideCorpus
{
    /// <summary>Where Debian installs the dictionary.</summary>
    public const string DefaultPath = "/usr/share/dictd/gcide.dict.dz";

    /// <summary>Reads every entry in file order (the licence and database header entries are skipped).</summary>
    public static IEnumerable<GcideEntry> ReadEntries(string path = DefaultPath)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"GCIDE dictionary not found at '{path}'. Install it with 'apt-get install dict-gcide' or pass the path of gcide.dict.dz.", path);
        using var file = File.OpenRead(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.UTF8);
        foreach (var entry in ReadEntries(reader)) yield return entry;
    }

    /// <summary>Parses entries from dictd text (exposed for tests on small snippets).</summary>
    public static IEnumerable<GcideEntry> ReadEntries(TextReader reader)
    {
        var lines = new List<string>();
        bool previousBlank = true;
        string? line;
        while ((line = reader.ReadLine()) != null)
        {
            // An entry starts at a non-indented line that follows a blank line.
            bool startsEntry = previousBlank && line.Length > 0 && !char.IsWhiteSpace(line[0]);
            if (startsEntry && lines.Count > 0)
            {
                var entry = Parse(lines);
                if (entry != null) yield return entry;
                lines.Clear();
            }
            lines.Add(line);
            previousBlank = line.Trim().Length == 0;
        }
        if (lines.Count > 0)
        {
            var last = Parse(lines);
            if (last != null) yield return last;
        }
    }

    /// <summary>Reads the plain text of the whole dictionary, one entry per line ("Headword: definitions").</summary>
    public static IEnumerable<string> ReadLines(string path = DefaultPath) =>
        ReadEntries(path).Select(e => e.Text);

    static GcideEntry? Parse(List<string> lines)
    {
        string first = lines[0];
        if (first.StartsWith("00-", StringComparison.Ordinal) || first.StartsWith(' ')) return null;
        int pron = first.IndexOf('\\');
        string headword = (pron > 0 ? first[..pron] : first.Split(',')[0]).Trim();
        if (headword.Length == 0) return null;
        string text = Clean(string.Join(' ', lines.Select(l => l.Trim())));
        if (text.Length < headword.Length + 3) return null;
        return new GcideEntry(headword, text);
    }

    /// <summary>Turns one entry's marked-up text into plain prose.</summary>
    public static string Clean(string raw)
    {
        string s = AccentCode().Replace(raw, m => m.Groups["letters"].Value);
        s = Pronunciation().Replace(s, "");
        s = Braces().Replace(s, "$1");
        s = Citation().Replace(s, " ");
        // Bracketed groups: source tags ([1913 Webster]), labels ([Obs.]) and etymologies; nested ones unwound from inside out.
        for (int i = 0; i < 3; i++) s = Bracketed().Replace(s, " ");
        s = s.Replace("[", "").Replace("]", "").Replace("\\", "").Replace("*", "").Replace("`", "");
        s = Spaces().Replace(s, " ").Trim();
        s = SpaceBeforePunctuation().Replace(s, "$1");
        return s;
    }

    // [`e], [^e], ["u], [=a], [AE], [oe], [,c], [~n]: accented letters and ligatures become plain letters.
    [GeneratedRegex(@"\[(?:[`^""=~,'.\-_/]?)(?<letters>[A-Za-z]{1,2})\]")]
    private static partial Regex AccentCode();
    [GeneratedRegex(@"\\[^\\]{0,80}\\")]
    private static partial Regex Pronunciation();
    [GeneratedRegex(@"\{([^{}]*)\}")]
    private static partial Regex Braces();
    [GeneratedRegex(@"--\s?[A-Z][A-Za-z'&. ]{0,40}?\.(?=\s|$)")]
    private static partial Regex Citation();
    [GeneratedRegex(@"\[[^\[\]]*\]")]
    private static partial Regex Bracketed();
    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();
    [GeneratedRegex(@"\s+([,.;:])")]
    private static partial Regex SpaceBeforePunctuation();
}
