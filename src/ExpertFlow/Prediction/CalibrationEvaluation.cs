using System.Globalization;
using ExpertFlow.Tracing;
using Toolkit.Reporting;

namespace ExpertFlow.Prediction;

/// <summary>
/// Reliability of a scorer's per-(token, layer, expert) probabilities against the true routing: of the raw probabilities
/// and of the top-k-normalised scores PLEC's forecast works with (<see cref="TopKNormalisation"/>).
/// </summary>
public static class CalibrationEvaluation
{
    public const string RawScores = "raw sigmoid";
    public const string NormalisedScores = "top-k normalised";

    /// <param name="scores">Per example [TokenCount x L x E] probabilities (<see cref="IPathScorer.Score"/>).</param>
    /// <param name="examples">The examples scored, with their true routing.</param>
    /// <param name="header">The traces' shape (layers, experts, top-k).</param>
    /// <param name="mode">prefill or decode (recorded in the results).</param>
    /// <param name="bins">Equal-width bins over [0, 1].</param>
    /// <param name="temperature">Probabilities are first rescaled by this temperature (<see cref="TemperatureScaling"/>).</param>
    /// <returns>The raw probabilities' reliability, then the normalised scores'.</returns>
    public static IReadOnlyList<Reliability> Evaluate(IReadOnlyList<float[]> scores, IReadOnlyList<PredictorExample> examples, RoutingTraceHeader header,
        string mode, int bins = 10, double temperature = 1)
    {
        int l = header.NumLayers, e = header.NumExperts, k = header.TopK, le = l * e;
        var raw = new ReliabilityHistogram(bins);
        var normalisedHistogram = new ReliabilityHistogram(bins);
        var truth = new bool[e];
        var normalised = new double[e];
        var p = new float[e];
        for (int x = 0; x < examples.Count; x++)
        {
            var ex = examples[x];
            for (int j = 0; j < ex.TokenCount; j++)
            {
                var route = ex.Sequence.Experts[ex.TokenStart + j];
                for (int layer = 0; layer < l; layer++)
                {
                    Array.Clear(truth);
                    for (int r = 0; r < k; r++) truth[route[layer * k + r]] = true;
                    scores[x].AsSpan(j * le + layer * e, e).CopyTo(p);
                    TemperatureScaling.Apply(p, temperature);
                    TopKNormalisation.Apply(p, k, normalised);
                    for (int i = 0; i < e; i++)
                    {
                        raw.Add(p[i], truth[i]);
                        normalisedHistogram.Add(normalised[i], truth[i]);
                    }
                }
            }
        }
        return [raw.ToReliability(RawScores, mode) with { Temperature = temperature }, normalisedHistogram.ToReliability(NormalisedScores, mode) with { Temperature = temperature }];
    }

    /// <summary>Bins as rows, one column per reliability ("mean predicted / observed (count)"), the ECE in the last row.</summary>
    public static MarkdownTable Table(IReadOnlyList<Reliability> reliabilities)
    {
        var table = new MarkdownTable(["bin", .. reliabilities.Select(r => $"{Name(r)}: mean predicted / observed (count)")]);
        int bins = reliabilities.Count == 0 ? 0 : reliabilities[0].Bins.Count;
        for (int b = 0; b < bins; b++)
        {
            var edges = reliabilities[0].Bins[b];
            table.Add([$"{F(edges.Lower, "F1")}-{F(edges.Upper, "F1")}", .. reliabilities.Select(r => Cell(r.Bins[b]))]);
        }
        table.Add(["ECE", .. reliabilities.Select(r => F(r.ExpectedCalibrationError, "F4"))]);
        return table;
    }

    /// <summary>"mode, scores" and the temperature when one was applied.</summary>
    public static string Name(Reliability r) => $"{r.Mode}, {r.Scores}" + (r.Temperature == 1 ? "" : $", T = {F(r.Temperature, "F3")}");

    static string Cell(ReliabilityBin bin) =>
        bin.Count == 0 ? "- (0)" : $"{F(bin.MeanPredicted!.Value, "F3")} / {F(bin.ObservedFrequency!.Value, "F3")} ({bin.Count.ToString("N0", CultureInfo.InvariantCulture)})";

    static string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);
}
