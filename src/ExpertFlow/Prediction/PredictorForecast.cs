using ExpertFlow.Model;
using ExpertFlow.Offloading.Policies;
using static TorchSharp.torch;

namespace ExpertFlow.Prediction;

/// <summary>
/// The routing path predictor as the offloading engine's forecast (the PLEC policy's input): at the start of
/// every step, before the first MoE layer runs, it predicts from token ids alone the experts each layer
/// will need for the batch. Per sequence it remembers the prompt (the encoder's input) and the tokens
/// generated so far (the decoder's input). Batch score of (layer, expert): 1 - prod over the step's tokens
/// of (1 - p_token), the probability that at least one token routes there.
/// </summary>
public sealed class PredictorForecast(RoutingPathPredictor predictor, int maxLength = 64) : IRoutingForecast
{
    readonly Dictionary<int, int[]> prompts = [];
    readonly Dictionary<int, List<int>> generated = [];
    // Per sequence, the latest provided next-token prediction; written by the scheduler (possibly on another thread).
    readonly System.Collections.Concurrent.ConcurrentDictionary<int, (int Position, int Token, float[] Probabilities)> provided = new();

    /// <summary>Seconds spent predicting (for reports).</summary>
    public double Seconds { get; private set; }

    /// <summary>Steps whose forecast reused predictions made by the token scheduler (<see cref="Provide"/>).</summary>
    public long ReusedSteps { get; private set; }

    /// <summary>
    /// Next-token predictions made elsewhere from the same inputs: the token scheduler predicts every row's next path
    /// before it regroups the batches, so the forecasts of the two batches that follow reuse them instead of running
    /// the predictor again. A sequence's new prediction replaces its previous one. Probabilities are [layer x expert].
    /// Thread-safe.
    /// </summary>
    public void Provide(IEnumerable<(int Sequence, int Position, int Token, float[] Probabilities)> predictions)
    {
        foreach (var (seq, pos, token, probs) in predictions) provided[seq] = (pos, token, probs);
    }

    public float[][]? Forecast(StepInfo step)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var rows = Enumerable.Range(0, step.TokenIds.Length).Where(r => step.TokenIds[r].Length > 0).ToArray();
        if (rows.Length == 0) return null;
        var config = predictor.Config;
        if (FromProvided(step, rows) is { } reused)
        {
            ReusedSteps++;
            Seconds += clock.Elapsed.TotalSeconds;
            return reused;
        }
        var examples = new List<(int[] Prompt, int[] Tokens, int Start, int New)>();
        foreach (int r in rows)
        {
            int seq = step.SequenceIds[r];
            var tokens = step.TokenIds[r];
            if (step.StartPositions[r] == 0)
            {
                prompts[seq] = tokens.ToArray();
                generated[seq] = [];
                var p = tokens.TakeLast(maxLength).ToArray();
                examples.Add((p, p, 0, p.Length));
            }
            else
            {
                var prompt = prompts.TryGetValue(seq, out var known) ? known : [];
                var gen = generated.TryGetValue(seq, out var list) ? list : generated[seq] = [];
                gen.AddRange(tokens);
                var decoder = gen.TakeLast(maxLength).ToArray();
                var enc = prompt.Length > 0 ? prompt.Take(maxLength).ToArray() : [0];
                examples.Add((enc, decoder, step.StartPositions[r] + tokens.Length - decoder.Length, tokens.Length));
            }
        }
        int b = examples.Count, pLen = examples.Max(e => e.Prompt.Length), sLen = examples.Max(e => e.Tokens.Length);
        var promptIds = new long[b * pLen];
        var lengths = new long[b];
        var tokenIds = new long[b * sLen];
        var starts = new long[b];
        for (int i = 0; i < b; i++)
        {
            var e = examples[i];
            for (int j = 0; j < e.Prompt.Length; j++) promptIds[i * pLen + j] = e.Prompt[j];
            lengths[i] = e.Prompt.Length;
            for (int j = 0; j < e.Tokens.Length; j++) tokenIds[i * sLen + j] = e.Tokens[j];
            starts[i] = e.Start;
        }
        int l = config.NumLayers, experts = config.NumExperts;
        var missAll = new double[l * experts];
        Array.Fill(missAll, 1.0);
        using (var noGrad = no_grad())
        using (var scope = NewDisposeScope())
        {
            var device = predictor.parameters().First().device;
            var probs = predictor.Forward(tensor(promptIds, [b, pLen], device: device), tensor(lengths, [b], device: device),
                tensor(tokenIds, [b, sLen], device: device), tensor(starts, [b], device: device)).sigmoid().cpu().data<float>().ToArray();
            for (int i = 0; i < b; i++)
            {
                var e = examples[i];
                for (int j = e.Tokens.Length - e.New; j < e.Tokens.Length; j++)
                    Accumulate(missAll, probs.AsSpan((i * sLen + j) * l * experts, l * experts), experts, config.TopK);
            }
        }
        Seconds += clock.Elapsed.TotalSeconds;
        return BatchScores(missAll, l, experts);
    }

    /// <summary>
    /// The next step's forecast from provided predictions: the rows idle in <paramref name="current"/> (with two batches in
    /// flight, the other batch) whose prediction for their next position is known. Null when none is.
    /// </summary>
    public float[][]? ForecastUpcoming(StepInfo current)
    {
        if (provided.IsEmpty) return null;
        var waiting = new List<float[]>();
        for (int r = 0; r < current.TokenIds.Length; r++)
        {
            if (current.TokenIds[r].Length > 0 || current.StartPositions[r] == 0) continue;
            if (provided.TryGetValue(current.SequenceIds[r], out var p) && p.Position == current.StartPositions[r]) waiting.Add(p.Probabilities);
        }
        return waiting.Count == 0 ? null : Combine(waiting);
    }

    /// <summary>The forecast from provided predictions when every row is a decode row with one provided token; else null.</summary>
    float[][]? FromProvided(StepInfo step, int[] rows)
    {
        if (provided.IsEmpty) return null;
        var probs = new float[rows.Length][];
        for (int i = 0; i < rows.Length; i++)
        {
            int r = rows[i];
            if (step.StartPositions[r] == 0 || step.TokenIds[r].Length != 1
                || !provided.TryGetValue(step.SequenceIds[r], out var p) || p.Position != step.StartPositions[r] || p.Token != step.TokenIds[r][0]) return null;
            probs[i] = p.Probabilities;
        }
        foreach (int r in rows)
        {
            var gen = generated.TryGetValue(step.SequenceIds[r], out var list) ? list : generated[step.SequenceIds[r]] = [];
            gen.AddRange(step.TokenIds[r]); // the history the predictor would have seen
        }
        return Combine(probs);
    }

    /// <summary>Batch scores from per-token probabilities [layer x expert].</summary>
    float[][] Combine(IEnumerable<float[]> tokenProbabilities)
    {
        int l = predictor.Config.NumLayers, experts = predictor.Config.NumExperts;
        var missAll = new double[l * experts];
        Array.Fill(missAll, 1.0);
        foreach (var p in tokenProbabilities) Accumulate(missAll, p, experts, predictor.Config.TopK);
        return BatchScores(missAll, l, experts);
    }

    /// <summary>
    /// Folds one token's predicted probabilities [layer x expert] into the batch's miss products. Per layer they are
    /// first scaled to sum to the router's top-k (each capped at 1): the router picks exactly k experts per token, while
    /// independent sigmoids need not sum to k, and the policy shares slots among layers by these sums.
    /// </summary>
    static void Accumulate(double[] missAll, ReadOnlySpan<float> tokenProbabilities, int experts, int topK)
    {
        for (int start = 0; start < tokenProbabilities.Length; start += experts)
        {
            var layer = tokenProbabilities.Slice(start, experts);
            double sum = 0;
            foreach (float p in layer) sum += p;
            double scale = sum > 0 ? topK / sum : 0;
            for (int e = 0; e < experts; e++) missAll[start + e] *= 1 - Math.Min(1.0, layer[e] * scale);
        }
    }

    static float[][] BatchScores(double[] missAll, int layers, int experts)
    {
        var result = new float[layers][];
        for (int layer = 0; layer < layers; layer++)
            result[layer] = Enumerable.Range(0, experts).Select(e => (float)(1 - missAll[layer * experts + e])).ToArray();
        return result;
    }
}
