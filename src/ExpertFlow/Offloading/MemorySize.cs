using System.Globalization;

namespace ExpertFlow.Offloading;

/// <summary>Parses and prints byte sizes such as "6.5GiB", "4GB", "512MiB" or "1000000".</summary>
public static class MemorySize
{
    static readonly (string Suffix, double Factor)[] Units =
    [
        ("TiB", 1L << 40), ("GiB", 1L << 30), ("MiB", 1L << 20), ("KiB", 1L << 10),
        ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3), ("kB", 1e3), ("B", 1),
    ];

    /// <summary>Bytes in <paramref name="text"/>; a clear error names the option when it is not a size.</summary>
    public static long Parse(string text, string optionName = "--memory")
    {
        string s = text.Trim();
        foreach (var (suffix, factor) in Units)
        {
            if (!s.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)) continue;
            string number = s[..^suffix.Length].Trim();
            if (double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value >= 0)
                return checked((long)Math.Floor(value * factor));
            break;
        }
        if (long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long bytes) && bytes >= 0) return bytes;
        throw new ArgumentException($"'{optionName} {text}' is not a memory size; write it like 6.5GiB, 4096MiB, 4GB or a number of bytes.");
    }

    /// <summary>Human-readable size in binary units (e.g. "6.50 GiB").</summary>
    public static string Format(long bytes)
    {
        double b = bytes;
        if (Math.Abs(b) >= 1L << 30) return (b / (1L << 30)).ToString("0.00", CultureInfo.InvariantCulture) + " GiB";
        if (Math.Abs(b) >= 1L << 20) return (b / (1L << 20)).ToString("0.00", CultureInfo.InvariantCulture) + " MiB";
        if (Math.Abs(b) >= 1L << 10) return (b / (1L << 10)).ToString("0.00", CultureInfo.InvariantCulture) + " KiB";
        return bytes.ToString(CultureInfo.InvariantCulture) + " B";
    }
}
