using System.Text.Json;
using System.Text.Json.Serialization;
using ExpertFlow.Tracing;
using Toolkit.Reporting;

namespace ExpertFlow.Prediction;

/// <summary>
/// The predictor's temperature (<see cref="TemperatureScaling"/>), fitted on its training traces and kept beside it as
/// predictor_calibration.json; <see cref="IncrementalPredictor"/> applies it when the file is present.
/// </summary>
/// <param name="Temperature">T.</param>
/// <param name="Samples">(token, layer, expert) probabilities it was fitted on.</param>
/// <param name="BceBefore">Their mean binary cross-entropy at T = 1.</param>
/// <param name="BceAfter">And at <paramref name="Temperature"/>.</param>
public sealed record PredictorCalibration(
    [property: JsonPropertyName("temperature")] double Temperature,
    [property: JsonPropertyName("samples")] long Samples,
    [property: JsonPropertyName("bce_before")] double BceBefore,
    [property: JsonPropertyName("bce_after")] double BceAfter)
{
    public const string FileName = "predictor_calibration.json";

    /// <summary>
    /// Fits T on the prefill and decode examples of up to <paramref name="sequences"/> training sequences (a seeded sample).
    /// </summary>
    public static PredictorCalibration Fit(IPathScorer predictor, IReadOnlyList<TracedSequence> train, RoutingTraceHeader header, int maxLength,
        int sequences = 1000, int seed = 0)
    {
        var sample = train.ToArray();
        new Random(seed).Shuffle(sample);
        var (prefill, decode) = PathEvaluation.Examples(sample.Take(sequences), maxLength);
        var logits = new List<double>();
        var outcomes = new List<bool>();
        int l = header.NumLayers, e = header.NumExperts, k = header.TopK;
        foreach (var examples in new[] { prefill, decode })
        {
            var scores = predictor.Score(examples);
            for (int x = 0; x < examples.Count; x++)
                for (int j = 0; j < examples[x].TokenCount; j++)
                {
                    var route = examples[x].Sequence.Experts[examples[x].TokenStart + j];
                    for (int layer = 0; layer < l; layer++)
                        for (int i = 0; i < e; i++)
                        {
                            logits.Add(TemperatureScaling.Logit(scores[x][(j * l + layer) * e + i]));
                            outcomes.Add(route.AsSpan(layer * k, k).Contains((short)i));
                        }
                }
        }
        var z = logits.ToArray();
        var y = outcomes.ToArray();
        double t = TemperatureScaling.Fit(z, y);
        return new PredictorCalibration(t, z.Length, TemperatureScaling.MeanBce(z, y, 1), TemperatureScaling.MeanBce(z, y, t));
    }

    /// <summary>The calibration in <paramref name="folder"/>, or null when it has none; a damaged file is an InvalidDataException.</summary>
    public static PredictorCalibration? Load(string folder)
    {
        string path = Path.Combine(folder, FileName);
        if (!File.Exists(path)) return null;
        PredictorCalibration? c;
        try { c = JsonSerializer.Deserialize<PredictorCalibration>(File.ReadAllText(path)); }
        catch (JsonException ex) { throw new InvalidDataException($"{path} is not a predictor calibration ({ex.Message.Split('.')[0]}); delete it, or fit it again with the predictor evaluation ('expertflow eval-predictor')"); }
        if (c == null || !double.IsFinite(c.Temperature) || c.Temperature <= 0)
            throw new InvalidDataException($"{path} holds no positive finite temperature; delete it, or fit it again with the predictor evaluation ('expertflow eval-predictor')");
        return c;
    }

    /// <summary>Writes predictor_calibration.json into <paramref name="folder"/> (atomically).</summary>
    public void Save(string folder) =>
        Files.WriteAllTextAtomically(Path.Combine(folder, FileName), JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true }));
}
