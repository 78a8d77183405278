using ExpertFlow.Demo;
using static TorchSharp.torch;

namespace ExpertFlow.Tracing;

/// <summary>Records the routing of the demo model over token sequences (one forward per batch of sequences, no padding mixing).</summary>
public static class DemoRoutingTracer
{
    /// <summary>Runs the model over each sequence (truncated to <paramref name="maxLength"/>) and returns its routing.</summary>
    public static List<TracedSequence> Trace(DemoMixtral model, IReadOnlyList<int[]> sequences, int maxLength, int firstSequenceId = 0,
        IProgress<int>? progress = null)
    {
        var config = model.Config;
        var result = new List<TracedSequence>(sequences.Count);
        model.eval();
        using var noGrad = no_grad();
        var device = model.Device;
        // Sequences of equal length are batched together so no padding enters the routing.
        var order = Enumerable.Range(0, sequences.Count).Where(i => sequences[i].Length > 0)
            .GroupBy(i => Math.Min(sequences[i].Length, maxLength));
        var traced = new TracedSequence?[sequences.Count];
        int done = 0;
        foreach (var group in order)
        {
            foreach (var chunk in group.Chunk(32))
            {
                using var scope = NewDisposeScope();
                int length = group.Key;
                var ids = new long[chunk.Length * length];
                for (int b = 0; b < chunk.Length; b++)
                    for (int p = 0; p < length; p++) ids[b * length + p] = sequences[chunk[b]][p];
                var capture = new List<(Tensor Ids, Tensor Logits)>();
                model.Forward(tensor(ids, [chunk.Length, length]).to(device), capture, out _);
                // capture[l].Ids: [B*S, k]
                var perLayer = capture.Select(c => c.Ids.cpu().data<long>().ToArray()).ToArray();
                for (int b = 0; b < chunk.Length; b++)
                {
                    var experts = new short[length][];
                    for (int p = 0; p < length; p++)
                    {
                        var e = new short[config.NumLayers * config.TopK];
                        for (int l = 0; l < config.NumLayers; l++)
                            for (int j = 0; j < config.TopK; j++)
                                e[l * config.TopK + j] = (short)perLayer[l][(b * length + p) * config.TopK + j];
                        experts[p] = e;
                    }
                    traced[chunk[b]] = new TracedSequence(firstSequenceId + chunk[b], sequences[chunk[b]].Take(length).ToArray(), experts);
                }
                done += chunk.Length;
                progress?.Report(done);
            }
        }
        foreach (var t in traced) if (t != null) result.Add(t);
        return result;
    }
}
