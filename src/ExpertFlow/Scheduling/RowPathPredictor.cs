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
    public double Seconds { get; private set; }

    /// <param name="prompts">Prompt of each row (the encoder's input).</param>
    /// <param name="generated">Tokens fed after the prompt so far, the last one being the token about to be processed.</param>
    public ExpertSet[] Predict(IReadOnlyList<int[]> prompts, IReadOnlyList<IReadOnlyList<int>> generated)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var c = predictor.Config;
        int b = prompts.Count;
        int p = Math.Max(1, prompts.Max(x => Math.Min(x.Length, maxLength)));
        int s = Math.Max(1, generated.Max(x => Math.Min(x.Count, maxLength)));
        var promptIds = new long[b * p];
        var lengths = new long[b];
        var tokenIds = new long[b * s];
        var starts = new long[b];
        var last = new int[b];
        for (int i = 0; i < b; i++)
        {
            var prompt = prompts[i].Take(maxLength).ToArray();
            for (int j = 0; j < prompt.Length; j++) promptIds[i * p + j] = prompt[j];
            lengths[i] = Math.Max(1, prompt.Length);
            var dec = generated[i].TakeLast(maxLength).ToArray();
            for (int j = 0; j < dec.Length; j++) tokenIds[i * s + j] = dec[j];
            starts[i] = prompts[i].Length + generated[i].Count - dec.Length;
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
            share?.Provide(Enumerable.Range(0, b).Where(i => generated[i].Count > 0).Select(i =>
                (i, prompts[i].Length + generated[i].Count - 1, generated[i][^1], scores.AsSpan((i * s + last[i]) * le, le).ToArray())));
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
        Seconds += clock.Elapsed.TotalSeconds;
        return result;
    }
}
