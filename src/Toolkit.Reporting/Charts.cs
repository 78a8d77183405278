namespace Toolkit.Reporting;

/// <summary>One named line of a chart.</summary>
public sealed record Series(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y);

/// <summary>PNG charts for reports (ScottPlot, headless).</summary>
public static class Charts
{
    /// <summary>Writes a line chart of one or more series to <paramref name="pngPath"/> (atomically).</summary>
    public static void Line(string pngPath, string title, string xLabel, string yLabel, IEnumerable<Series> series,
        bool logY = false, int width = 900, int height = 540) => Draw(pngPath, () =>
    {
        var plot = new ScottPlot.Plot();
        foreach (var s in series)
        {
            if (s.X.Count != s.Y.Count) throw new ArgumentException($"series '{s.Name}': {s.X.Count} x values but {s.Y.Count} y values");
            double[] ys = logY ? s.Y.Select(v => Math.Log10(Math.Max(v, 1e-300))).ToArray() : s.Y.ToArray();
            var line = plot.Add.Scatter(s.X.ToArray(), ys);
            line.LegendText = s.Name;
            line.MarkerSize = s.X.Count > 60 ? 0 : 4;
        }
        Finish(plot, pngPath, title, xLabel, logY ? $"log10 {yLabel}" : yLabel, width, height);
    });

    /// <summary>Writes a bar chart: one group per category, one bar per series within it.</summary>
    public static void Bars(string pngPath, string title, string yLabel, IReadOnlyList<string> categories,
        IReadOnlyList<(string Name, IReadOnlyList<double> Values)> series, int width = 900, int height = 540) => Draw(pngPath, () =>
    {
        var plot = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        int groups = categories.Count, per = series.Count;
        var bars = new List<ScottPlot.Bar>();
        for (int s = 0; s < per; s++)
        {
            if (series[s].Values.Count != groups) throw new ArgumentException($"series '{series[s].Name}' has {series[s].Values.Count} values for {groups} categories");
            for (int g = 0; g < groups; g++)
                bars.Add(new ScottPlot.Bar { Position = g * (per + 1) + s, Value = series[s].Values[g], FillColor = palette.GetColor(s) });
        }
        plot.Add.Bars(bars);
        for (int s = 0; s < per; s++) plot.Legend.ManualItems.Add(new ScottPlot.LegendItem { LabelText = series[s].Name, FillColor = palette.GetColor(s) });
        var ticks = categories.Select((c, g) => new ScottPlot.Tick(g * (per + 1) + (per - 1) / 2.0, c)).ToArray();
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks);
        plot.Axes.Margins(bottom: 0);
        Finish(plot, pngPath, title, "", yLabel, width, height);
    });

    /// <summary>Draws a chart; where SkiaSharp's native library is missing (trimmed bundles, odd platforms) the chart is
    /// skipped with a warning instead of failing the run whose results it would only illustrate.</summary>
    static void Draw(string pngPath, Action draw)
    {
        try { draw(); }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException)
        {
            Console.Error.WriteLine($"warning: chart '{pngPath}' not drawn: SkiaSharp's native library could not be loaded ({e.GetBaseException().Message}); " +
                "the data behind it is written as usual (redraw it where SkiaSharp works).");
        }
    }

    static void Finish(ScottPlot.Plot plot, string pngPath, string title, string xLabel, string yLabel, int width, int height)
    {
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.ShowLegend();
        Files.WriteAtomically(pngPath, temp => plot.SavePng(temp, width, height));
    }
}
