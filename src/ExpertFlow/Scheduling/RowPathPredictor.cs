using ExpertFlow.Prediction;
using static TorchSharp.torch;

namespace ExpertFlow.Scheduling;

/// <summary>
/// Predicts, per decoding row, the experts its next token will use (top-k per layer of the predictor's scores).
/// With <paramref name="share"/>, the PLEC forecast of the following steps reuses these predictions (same inputs)
/// instead of running the predictor a second time.
/// </summary>
public sealed class RowPathPredictor(RoutingPathPredictor predictor, int maxLength = 64, PredictorForecast? share = null)
{
    readonly object gate = new();
    double seconds;

    /// <summary>Seconds spent predicting, summed over calls (also calls running at the same time).</summary>
    public double Seconds { get { lock (gate) return seconds; } }

    /// <param name="prompts">Prompt of each row (the encoder's input).</param>
    /// <param name="generated">Tokens fed after the prompt so far, the last one being the token about to be processed.</param>
    public ExpertSet[] Predict(IReadOnlyList<int[]> prompts, IReadOnlyList<IReadOnlyList<int>> generated) =>
        PredictRows(prompts, generated, Enumerable.Range(0, prompts.Count).ToArray());

    /// <summary>
    /// The paths of the given rows only (indices into <paramref name="prompts"/> and <paramref name="generated"/>,
    /// which are also the sequence ids the forecast sees). Safe to call from two threads at once (the dual-batch
    /// generator predicts one batch's rows while the other batch computes).
    /// </summary>
    public ExpertSet[] PredictRows(IReadOnlyList<int[]> prompts, IReadOnlyList<IReadOnlyList<int>> generated, int[] rows)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var c = predictor.Config;
        int b = rows.Length;
        if (b == 0) return [];
        int p = Math.Max(1, rows.Max(r => Math.Min(prompts[r].Length, maxLength)));
        int s = Math.Max(1, rows.Max(r => Math.Min(generated[r].Count, maxLength)));
        var promptIds = new long[b * p];
        var lengths = new long[b];
        var tokenIds = new long[b * s];
        var starts = new long[b];
        var last = new int[b];
        for (int i = 0; i < b; i++)
        {
            int row = rows[i];
            var prompt = prompts[row].Take(maxLength).ToArray();
            for (int j = 0; j < prompt.Length; j++) promptIds[i * p + j] = prompt[j];
            lengths[i] = Math.Max(1, prompt.Length);
            var dec = generated[row].TakeLast(maxLength).ToArray();
            for (int j = 0; j < dec.Length; j++) tokenIds[i * s + j] = dec[j];
            starts[i] = prompts[row].Length + generated[row].Count - dec.Length;
            last[i] = Math.Max(0, dec.Length - 1);
        }
        var result = new ExpertSet[b];
        using (var noGrad = no_grad())
        using (var scope = NewDisposeScope())
        {
            var device = predictor.parameters().First().device;
            var scores = predictor.Forward(tensor(promptIds, [b, p], device: device), tensor(lengths, [b], device: device),
                tensor(tokenIds, [b, s], device: device), tensor(starts, [b], device: device)).sigmoid().cpu().data<float>().ToArray();
            int le = c.NumLayers * c.NumExperts;
            share?.Provide(Enumerable.Range(0, b).Where(i => generated[rows[i]].Count > 0).Select(i =>
                (rows[i], prompts[rows[i]].Length + generated[rows[i]].Count - 1, generated[rows[i]][^1], scores.AsSpan((i * s + last[i]) * le, le).ToArray())));
            var top = new int[c.TopK];
            for (int i = 0; i < b; i++)
            {
                var set = new ExpertSet(c.NumLayers, c.NumExperts);
                for (int layer = 0; layer < c.NumLayers; layer++)
                {
                    PathEvaluation.TopK(scores.AsSpan((i * s + last[i]) * le + layer * c.NumExperts, c.NumExperts), top);
                    foreach (int e in top) set.Add(layer, e);
                }
                result[i] = set;
            }
        }
        lock (gate) seconds += clock.Elapsed.TotalSeconds;
        return result;
    }
}
