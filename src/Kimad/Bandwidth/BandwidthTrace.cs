using System.Globalization;

namespace Kimad.Bandwidth;

/// <summary>
/// A bandwidth trace: rows "seconds,mbps" (step function: a rate holds until the next row's time),
/// replayed in a loop of length <see cref="Period"/> (the last row's time plus its hold, the median step).
/// Lines starting with '#' and a header row are ignored.
/// </summary>
public sealed class BandwidthTrace
{
    public BandwidthTrace(IReadOnlyList<(double Seconds, double Mbps)> points, string name = "trace")
    {
        if (points.Count == 0) throw new ArgumentException($"trace '{name}' has no points");
        for (int i = 0; i < points.Count; i++)
        {
            if (points[i].Mbps <= 0 || !double.IsFinite(points[i].Mbps)) throw new ArgumentException($"trace '{name}' row {i + 1}: rate {points[i].Mbps} Mbit/s must be positive");
            if (i > 0 && points[i].Seconds <= points[i - 1].Seconds) throw new ArgumentException($"trace '{name}' row {i + 1}: times must increase");
        }
        if (points[0].Seconds != 0) throw new ArgumentException($"trace '{name}': the first row must be at 0 seconds");
        Points = points;
        Name = name;
        double step = points.Count > 1 ? points.Zip(points.Skip(1), (a, b) => b.Seconds - a.Seconds).Order().ElementAt((points.Count - 1) / 2) : 1;
        Period = points[^1].Seconds + step;
    }

    public string Name { get; }
    public IReadOnlyList<(double Seconds, double Mbps)> Points { get; }
    public double Period { get; }

    /// <summary>The rate in Mbit/s at time <paramref name="seconds"/> (looping).</summary>
    public double MbpsAt(double seconds)
    {
        double t = seconds < 0 ? 0 : seconds % Period;
        int lo = 0, hi = Points.Count - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2;
            if (Points[mid].Seconds <= t) lo = mid; else hi = mid - 1;
        }
        return Points[lo].Mbps;
    }

    /// <summary>Reads a CSV trace file.</summary>
    public static BandwidthTrace Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"trace file '{path}' not found (CSV rows 'seconds,mbps'; examples in src/Kimad/Traces)", path);
        var points = new List<(double, double)>();
        int lineNo = 0;
        foreach (string raw in File.ReadLines(path))
        {
            lineNo++;
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var parts = line.Split(',', ';', '\t');
            if (parts.Length < 2) throw new FormatException($"{path}:{lineNo}: expected 'seconds,mbps'");
            if (!double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out double s) ||
                !double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double m))
            {
                if (points.Count == 0) continue; // header row
                throw new FormatException($"{path}:{lineNo}: '{line}' is not 'seconds,mbps'");
            }
            points.Add((s, m));
        }
        return new BandwidthTrace(points, Path.GetFileNameWithoutExtension(path));
    }

    /// <summary>A constant trace.</summary>
    public static BandwidthTrace Constant(double mbps) => new([(0, mbps)], $"constant-{mbps}");
}
