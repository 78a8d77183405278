using System.Globalization;

namespace Toolkit.Runtime;

/// <summary>Parses and prints byte sizes such as "6.5GiB", "4GB", "512MiB" or "1000000".</summary>
public static class MemorySize
{
    static readonly (string Suffix, double Factor)[] Units =
    [
        ("TiB", 1L << 40), ("GiB", 1L << 30), ("MiB", 1L << 20), ("KiB", 1L << 10),
        ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3), ("kB", 1e3), ("B", 1),
    ];

    /// <summary>Bytes in <paramref name="text"/> (e.g. 6.5GiB, 4096MiB, 4GB, or a number of bytes), or false when it is not a size.</summary>
    public static bool TryParse(string text, out long bytes)
    {
        bytes = 0;
        string s = text.Trim();
        foreach (var (suffix, factor) in Units)
        {
            if (!s.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)) continue;
            string number = s[..^suffix.Length].Trim();
            if (double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value >= 0 && value * factor < long.MaxValue)
            {
                bytes = (long)Math.Floor(value * factor);
                return true;
            }
            return false;
        }
        return long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out bytes);
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
