using System.Globalization;
using Toolkit.Reporting;

namespace ExpertFlow.Prediction;

/// <summary>Draws reliability diagrams: observed frequency against mean predicted probability per bin, with the diagonal of perfect calibration.</summary>
public static class ReliabilityDiagram
{
    public static void Draw(string pngPath, string title, IEnumerable<Reliability> reliabilities)
    {
        var series = new List<Series> { new("perfect calibration", [0.0, 1.0], [0.0, 1.0]) };
        foreach (var r in reliabilities)
        {
            var bins = r.Bins.Where(b => b.Count > 0).ToArray();
            series.Add(new Series($"{CalibrationEvaluation.Name(r)} (ECE {r.ExpectedCalibrationError.ToString("F3", CultureInfo.InvariantCulture)})",
                bins.Select(b => b.MeanPredicted!.Value).ToArray(), bins.Select(b => b.ObservedFrequency!.Value).ToArray()));
        }
        Charts.Line(pngPath, title, "mean predicted probability (bin)", "observed frequency", series);
    }
}
