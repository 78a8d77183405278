using ExpertFlow.Model;

namespace ExpertFlow.Tracing;

/// <summary>
/// Records a model's routing as traces while it runs: a routing observer (<see cref="IRoutingObserver"/>) that keeps,
/// per sequence and position, the token id and the experts each MoE layer chose (MoE layers numbered 0.. in model
/// order, as <see cref="RoutingTraceHeader"/> counts them). Works for every family the runtime loads.
/// </summary>
public sealed class RoutingRecorder : IRoutingObserver
{
    readonly Dictionary<int, int> moePosition;          // model layer -> MoE layer position
    readonly Dictionary<(int Sequence, int Position), (int Token, short[] Experts)> tokens = [];

    public RoutingRecorder(IMoeModel model)
    {
        if (model.Config.IsEncoderDecoder)
            throw new ArgumentException($"routing traces are recorded for decoder-only models; '{model.Config.ModelType}' is an encoder-decoder model");
        Header = RoutingTraceHeader.Of(model);
        moePosition = model.Experts.MoeLayers.Select((layer, i) => (layer, i)).ToDictionary(x => x.layer, x => x.i);
    }

    public RoutingTraceHeader Header { get; }

    public void OnRouting(RoutingDecision decision)
    {
        int layer = moePosition[decision.Layer];
        for (int i = 0; i < decision.SequenceIds.Length; i++)
        {
            var key = (decision.SequenceIds[i], decision.Positions[i]);
            if (!tokens.TryGetValue(key, out var entry)) tokens[key] = entry = (decision.TokenIds[i], new short[Header.ExpertsPerToken]);
            var chosen = decision.Experts[i];
            for (int j = 0; j < Header.TopK && j < chosen.Length; j++) entry.Experts[layer * Header.TopK + j] = (short)chosen[j];
        }
    }

    /// <summary>The recorded sequences (positions 0..n-1 each), in sequence id order; clears the recorder.</summary>
    public List<TracedSequence> Take()
    {
        var result = tokens.GroupBy(t => t.Key.Sequence).OrderBy(g => g.Key).Select(g =>
        {
            var ordered = g.OrderBy(t => t.Key.Position).ToArray();
            return new TracedSequence(g.Key, ordered.Select(t => t.Value.Token).ToArray(), ordered.Select(t => t.Value.Experts).ToArray());
        }).ToList();
        tokens.Clear();
        return result;
    }
}
