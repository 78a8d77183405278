using ExpertFlow.Model;
using ExpertFlow.Offloading.Policies;

namespace ExpertFlow.Prediction;

/// <summary>
/// The true routing as a forecast: a perfect routing-path predictor, for measuring what PLEC could reach with no
/// prediction error and no prediction cost (the cache evaluation's <c>expertflow-oracle</c>). It records, as a routing
/// observer, every token's experts during a reference generation, keyed by run, sequence (cache row) and position, and
/// replays them as scores of 1 when the same generation runs again (greedy decoding gives the same tokens, so the same
/// routing). Not usable for real generation: it needs the run it predicts to have happened before.
/// </summary>
public sealed class OracleForecast(int expertsPerLayer) : IRoutingForecast, IRoutingObserver
{
    readonly Dictionary<(int Run, int Sequence, int Position), Dictionary<int, int[]>> paths = [];
    readonly SortedSet<int> moeLayers = [];

    /// <summary>The generation run being recorded or replayed (the same prompts give the same run index).</summary>
    public int Run { get; set; }

    /// <summary>True while the reference generation runs: routing decisions are stored.</summary>
    public bool Recording { get; set; }

    public void OnRouting(RoutingDecision decision)
    {
        if (!Recording) return;
        moeLayers.Add(decision.Layer);
        for (int i = 0; i < decision.SequenceIds.Length; i++)
        {
            var key = (Run, decision.SequenceIds[i], decision.Positions[i]);
            if (!paths.TryGetValue(key, out var byLayer)) paths[key] = byLayer = [];
            byLayer[decision.Layer] = decision.Experts[i];
        }
    }

    public float[][]? Forecast(StepInfo step)
    {
        if (Recording) return null;
        var tokens = new List<(int Sequence, int Position)>();
        for (int r = 0; r < step.TokenIds.Length; r++)
            for (int j = 0; j < step.TokenIds[r].Length; j++) tokens.Add((step.SequenceIds[r], step.StartPositions[r] + j));
        return Scores(tokens);
    }

    /// <summary>The rows idle in this step, at their next position (the other batch's coming step).</summary>
    public float[][]? ForecastUpcoming(StepInfo current)
    {
        if (Recording) return null;
        var tokens = Enumerable.Range(0, current.TokenIds.Length)
            .Where(r => current.TokenIds[r].Length == 0 && current.StartPositions[r] > 0)
            .Select(r => (current.SequenceIds[r], current.StartPositions[r])).ToList();
        return Scores(tokens);
    }

    float[][]? Scores(List<(int Sequence, int Position)> tokens)
    {
        var layers = moeLayers.ToArray();
        var scores = layers.Select(_ => new float[expertsPerLayer]).ToArray();
        int known = 0;
        foreach (var (sequence, position) in tokens)
        {
            if (!paths.TryGetValue((Run, sequence, position), out var byLayer)) continue;
            known++;
            for (int p = 0; p < layers.Length; p++)
                if (byLayer.TryGetValue(layers[p], out var chosen))
                    foreach (int e in chosen) scores[p][e] = 1;
        }
        return known == 0 ? null : scores;
    }
}
