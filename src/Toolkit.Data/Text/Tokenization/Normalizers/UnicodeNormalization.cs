using System.Globalization;
using System.IO.Compression;
using System.Text;

namespace Toolkit.Data.Text.Tokenization.Normalizers;

/// <summary>
/// Unicode normalization forms NFC, NFD, NFKC and NFKD (UAX #15) from an embedded table of the Unicode Character
/// Database (scripts/make_unicode_normalization_data.py). The toolkit runs with InvariantGlobalization, where
/// <see cref="string.Normalize(NormalizationForm)"/> returns its input unchanged, and ICU's Unicode version would
/// differ between machines anyway; the table makes results identical everywhere.
/// </summary>
internal static class UnicodeNormalization
{
    const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7, LCount = 19, VCount = 21, TCount = 28;
    const int NCount = VCount * TCount, SCount = LCount * NCount;

    sealed record Entry(byte Ccc, bool Compatibility, int[]? Decomposition);

    static readonly Lazy<(Dictionary<int, Entry> Entries, Dictionary<long, int> Compositions)> Table = new(Load);

    /// <summary>The Unicode version of the embedded table.</summary>
    public static string UnicodeVersion { get; private set; } = "";

    public static string Normalize(string s, NormalizationForm form)
    {
        bool compose = form is NormalizationForm.FormC or NormalizationForm.FormKC;
        bool compat = form is NormalizationForm.FormKC or NormalizationForm.FormKD;
        // Below U+00A0 nothing changes under any form; below U+0300 NFC changes nothing either.
        int limit = form == NormalizationForm.FormC ? 0x300 : 0xA0;
        bool simple = true;
        foreach (char c in s) if (c >= limit) { simple = false; break; }
        if (simple) return s;

        var (entries, compositions) = Table.Value;
        var cps = new List<int>(s.Length + 8);
        foreach (var rune in s.EnumerateRunes()) Decompose(rune.Value, compat, entries, cps);
        // Canonical ordering: stable sort of each run of non-starters by combining class.
        for (int i = 1; i < cps.Count; i++)
        {
            int ccc = Ccc(cps[i], entries);
            if (ccc == 0) continue;
            int j = i;
            while (j > 0)
            {
                int prev = Ccc(cps[j - 1], entries);
                if (prev <= ccc) break;
                (cps[j - 1], cps[j]) = (cps[j], cps[j - 1]);
                j--;
            }
        }
        if (compose) cps = Compose(cps, entries, compositions);
        var sb = new StringBuilder(cps.Count + 4);
        foreach (int cp in cps) sb.Append(char.ConvertFromUtf32(cp));
        return sb.ToString();
    }

    static int Ccc(int cp, Dictionary<int, Entry> entries) => entries.TryGetValue(cp, out var e) ? e.Ccc : 0;

    static void Decompose(int cp, bool compat, Dictionary<int, Entry> entries, List<int> output)
    {
        int sIndex = cp - SBase;
        if (sIndex >= 0 && sIndex < SCount)
        {
            output.Add(LBase + sIndex / NCount);
            output.Add(VBase + sIndex % NCount / TCount);
            int t = sIndex % TCount;
            if (t != 0) output.Add(TBase + t);
            return;
        }
        if (entries.TryGetValue(cp, out var e) && e.Decomposition is { } d && (compat || !e.Compatibility))
        {
            foreach (int part in d) Decompose(part, compat, entries, output);
            return;
        }
        output.Add(cp);
    }

    static List<int> Compose(List<int> cps, Dictionary<int, Entry> entries, Dictionary<long, int> compositions)
    {
        var result = new List<int>(cps.Count);
        int starter = -1, lastCcc = 0;
        foreach (int cp in cps)
        {
            int ccc = Ccc(cp, entries);
            if (starter >= 0)
            {
                bool adjacent = result.Count - 1 == starter;
                bool blocked = !adjacent && (lastCcc == 0 || lastCcc >= ccc);
                if (!blocked && TryCompose(result[starter], cp, compositions, out int composed))
                {
                    result[starter] = composed;
                    continue;
                }
            }
            if (ccc == 0) starter = result.Count;
            lastCcc = ccc;
            result.Add(cp);
        }
        return result;
    }

    static bool TryCompose(int a, int b, Dictionary<long, int> compositions, out int composed)
    {
        int lIndex = a - LBase, vIndex = b - VBase;
        if (lIndex >= 0 && lIndex < LCount && vIndex >= 0 && vIndex < VCount)
        {
            composed = SBase + (lIndex * VCount + vIndex) * TCount;
            return true;
        }
        int sIndex = a - SBase, tIndex = b - TBase;
        if (sIndex >= 0 && sIndex < SCount && sIndex % TCount == 0 && tIndex > 0 && tIndex < TCount)
        {
            composed = a + tIndex;
            return true;
        }
        return compositions.TryGetValue(((long)a << 21) | (uint)b, out composed);
    }

    static (Dictionary<int, Entry>, Dictionary<long, int>) Load()
    {
        var entries = new Dictionary<int, Entry>();
        var compositions = new Dictionary<long, int>();
        using var stream = typeof(UnicodeNormalization).Assembly.GetManifestResourceStream("Toolkit.Data.unicode-normalization.txt.gz")
            ?? throw new InvalidOperationException("Toolkit.Data lacks its embedded Unicode normalization table");
        using var gzip = new GZipStream(stream, CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.ASCII);
        UnicodeVersion = reader.ReadLine() ?? "";
        string? line;
        while ((line = reader.ReadLine()) != null)
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            int cp = int.Parse(f[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            byte ccc = byte.Parse(f[1], CultureInfo.InvariantCulture);
            int[]? d = f.Length > 3 ? f[3..].Select(x => int.Parse(x, NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToArray() : null;
            entries[cp] = new Entry(ccc, f[2] == "k", d);
            if (f[2] == "c" && d is { Length: 2 }) compositions[((long)d[0] << 21) | (uint)d[1]] = cp;
        }
        return (entries, compositions);
    }
}
