using ExpertFlow.Prediction;

namespace ExpertFlow.Scheduling;

/// <summary>
/// Predicts, per decoding row, the experts its next token will use (top-k per layer of the predictor's scores). The
/// predictor is shared with the cache policy's forecast (<see cref="PredictorForecast"/> over the same
/// <see cref="IncrementalPredictor"/>), which then reuses these predictions instead of running the predictor again.
/// </summary>
public sealed class RowPathPredictor(IncrementalPredictor predictor)
{
    /// <summary>Seconds spent predicting, summed over the shared predictor's calls (the forecast's too).</summary>
    public double Seconds => predictor.Seconds;

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
        var c = predictor.Config;
        // a row with nothing generated yet is predicted from its prompt's last token
        var feeds = rows.Select(r => generated[r].Count > 0
            ? new PredictorFeed(r, prompts[r].Length + generated[r].Count - 1, [generated[r][^1]], prompts[r])
            : new PredictorFeed(r, 0, prompts[r].Length > 0 ? prompts[r] : [0])).ToArray();
        var predicted = predictor.Predict(feeds);
        var result = new ExpertSet[rows.Length];
        var top = new int[c.TopK];
        for (int i = 0; i < rows.Length; i++)
        {
            var last = predicted[i][^1];
            var set = new ExpertSet(c.NumLayers, c.NumExperts);
            for (int layer = 0; layer < c.NumLayers; layer++)
            {
                PathEvaluation.TopK(last.AsSpan(layer * c.NumExperts, c.NumExperts), top);
                foreach (int e in top) set.Add(layer, e);
            }
            result[i] = set;
        }
        return result;
    }
}
