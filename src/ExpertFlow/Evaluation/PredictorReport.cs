using System.Text.Json;
using ExpertFlow.Prediction;
using ExpertFlow.Scheduling;
using ExpertFlow.Tracing;
using Toolkit.Reporting;

namespace ExpertFlow.Evaluation;

/// <summary>
/// The predictor's held-out evaluation: per-token recall and precision and per-batch coverage next to the heuristics,
/// the predictor's metrics per MoE layer, the calibration of its probabilities, and the distinct experts per layer each
/// batch activates with and without the token scheduler. Written as eval.md, results.json and reliability.png.
/// </summary>
/// <param name="Metrics">Every method's accuracy, prefill and decode.</param>
/// <param name="Layers">The predictor's accuracy per MoE layer.</param>
/// <param name="Calibration">Reliability of the predictor's probabilities, raw and top-k normalised; with a temperature, also after rescaling by it.</param>
/// <param name="Scheduling">Distinct experts per layer a batch activates, per scheduling batch size.</param>
/// <param name="Temperature">The predictor's fitted temperature, when it has one.</param>
public sealed record PredictorReport(IReadOnlyList<PathMetrics> Metrics, IReadOnlyList<LayerMetrics> Layers, IReadOnlyList<Reliability> Calibration,
    IReadOnlyList<SchedulingMetrics> Scheduling, PredictorCalibration? Temperature = null)
{
    /// <summary>Batch sizes of the scheduling rows.</summary>
    public static IReadOnlyList<int> SchedulingBatches { get; } = [4, 16];

    public const string ReportFile = "eval.md";
    public const string ResultsFile = "results.json";
    public const string ReliabilityFile = "reliability.png";
    public const string TemperatureReliabilityFile = "reliability-temperature.png";

    /// <summary>
    /// Evaluates <paramref name="predictor"/> on <paramref name="traces"/>; traces of another shape or vocabulary than the
    /// predictor's are an InvalidDataException naming the trace file. With <paramref name="temperature"/> the calibration
    /// is also measured after rescaling the probabilities by it.
    /// </summary>
    public static PredictorReport Evaluate(RoutingPathPredictor predictor, TraceSet traces, int maxLength, PredictorCalibration? temperature = null)
    {
        if (traces.Header.NumLayers != predictor.Config.NumLayers || traces.Header.NumExperts != predictor.Config.NumExperts)
            throw new InvalidDataException($"the traces{(traces.Folder is { } folder ? $" in '{folder}'" : "")} ({traces.Header}) are not of the model the predictor was trained for " +
                $"({predictor.Config.NumLayers} MoE layers x {predictor.Config.NumExperts} experts); train the predictor again with 'expertflow train-predictor'");
        traces.CheckVocabulary(predictor.Config.VocabSize);
        var header = traces.Header;
        var scorer = new RememberingScorer(new PredictorScorer(predictor, header));
        var (prefill, decode) = PathEvaluation.Examples(traces.HeldOut, maxLength);
        var metrics = PredictorEvaluation.Evaluate(scorer, header, traces.Train, prefill, decode);
        var layers = new List<LayerMetrics>();
        var calibration = new List<Reliability>();
        foreach (var (mode, examples) in new[] { ("prefill", prefill), ("decode", decode) })
        {
            layers.AddRange(LayerEvaluation.Evaluate(scorer.Score(examples), examples, header, mode));
            calibration.AddRange(CalibrationEvaluation.Evaluate(scorer.Score(examples), examples, header, mode));
            if (temperature != null)
                calibration.AddRange(CalibrationEvaluation.Evaluate(scorer.Score(examples), examples, header, mode, temperature: temperature.Temperature));
        }
        var scheduling = SchedulingBatches.Select(b => SchedulingEvaluation.Evaluate(scorer, traces.HeldOut, traces.Header, b, maxLength)).ToList();
        return new PredictorReport(metrics, layers, calibration, scheduling, temperature);
    }

    /// <summary>Writes eval.md, results.json and the reliability diagram into <paramref name="folder"/> (each atomically).</summary>
    public void Write(string folder)
    {
        var scheduling = new MarkdownTable("batch size", "decode steps", "experts/layer per batch, arrival order", "with token scheduler (predicted paths)", "scheduler on true paths (bound)", "split time ms");
        foreach (var s in Scheduling)
            scheduling.Add(s.BatchSize, s.Steps, s.InOrder.ToString("F2"), s.Scheduled.ToString("F2"), s.Oracle.ToString("F2"), s.MeanSplitMilliseconds.ToString("F2"));
        string text = PredictorEvaluation.Table(Metrics) + "\nThe predictor per MoE layer (normalised score: a layer's probabilities scaled to sum to top-k, capped at 1, as PLEC's forecast uses them):\n\n"
            + LayerEvaluation.Table(Layers) + "\nCalibration of the predictor's per-(token, layer, expert) probabilities (10 equal-width bins; ECE: expected calibration error):\n\n"
            + CalibrationEvaluation.Table(Calibration) + TemperatureLine() + $"\n![reliability diagram]({ReliabilityFile})\n\n" + scheduling;
        Files.WriteAllTextAtomically(Path.Combine(folder, ReportFile), text);
        Files.WriteAllTextAtomically(Path.Combine(folder, ResultsFile), JsonSerializer.Serialize(new { methods = Metrics, layers = Layers, calibration = Calibration, temperature = Temperature, scheduling = Scheduling },
            new JsonSerializerOptions { WriteIndented = true }));
        ReliabilityDiagram.Draw(Path.Combine(folder, ReliabilityFile), "Reliability of the routing-path predictor (held-out)", Calibration.Where(r => r.Temperature == 1));
        if (Temperature != null)
            ReliabilityDiagram.Draw(Path.Combine(folder, TemperatureReliabilityFile), string.Create(System.Globalization.CultureInfo.InvariantCulture, $"Reliability after temperature scaling, T = {Temperature.Temperature:F3} (held-out)"),
                Calibration.Where(r => r.Temperature != 1 || r.Scores == CalibrationEvaluation.RawScores));
    }

    string TemperatureLine() => Temperature is not { } t ? "" : string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"\nTemperature T = {t.Temperature:F3} ({PredictorCalibration.FileName}), fitted on {t.Samples:N0} training-trace probabilities: BCE {t.BceBefore:F5} -> {t.BceAfter:F5} there.\n" +
        $"\n![reliability after temperature scaling]({TemperatureReliabilityFile})\n");
}
