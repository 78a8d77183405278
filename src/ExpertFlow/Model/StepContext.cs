using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>
/// Per-step tensors shared by all layers (positions, masks, RoPE rows, cache write indices, valid-token index) and
/// the routing decisions recorded for observers. Lives inside the step's dispose scope.
/// </summary>
internal sealed class StepContext
{
    public required long Step { get; init; }
    public required int Rows { get; init; }
    public required int Width { get; init; }
    /// <summary>Valid tokens per row (rows are right-padded to <see cref="Width"/>).</summary>
    public required int[] Counts { get; init; }
    public required int[] Starts { get; init; }
    public required int[][] Tokens { get; init; }
    public required int[] SequenceIds { get; init; }
    /// <summary>Flat indices (row*Width+t) of the valid tokens; null when every token is valid.</summary>
    public Tensor? ValidIndex { get; init; }
    public int ValidCount => Counts.Sum();
    public bool Observed { get; init; }
    public readonly List<(int Layer, Tensor Experts, Tensor Weights)> Routing = [];

    /// <summary>(sequence id, position, token id) of every valid token, in flat order.</summary>
    public IEnumerable<(int Seq, int Pos, int Token)> ValidTokens()
    {
        for (int r = 0; r < Rows; r++)
            for (int t = 0; t < Counts[r]; t++)
                yield return (SequenceIds[r], Starts[r] + t, Tokens[r][t]);
    }

    /// <summary>Turns the recorded routing into decisions (one host copy per layer) and gives them to observers.</summary>
    public void Publish(IReadOnlyList<IRoutingObserver> observers)
    {
        if (observers.Count == 0 || Routing.Count == 0) return; // (Observed is false then: nothing was recorded)
        var tokens = ValidTokens().ToArray();
        int[] seqs = tokens.Select(t => t.Seq).ToArray(), pos = tokens.Select(t => t.Pos).ToArray(), ids = tokens.Select(t => t.Token).ToArray();
        foreach (var (layer, experts, weights) in Routing)
        {
            long n = experts.shape[0], k = experts.shape[1];
            var e = experts.cpu().data<long>().ToArray();
            var w = weights.to(ScalarType.Float32).cpu().data<float>().ToArray();
            var ex = new int[n][];
            var wx = new float[n][];
            for (long i = 0; i < n; i++)
            {
                ex[i] = new int[k];
                wx[i] = new float[k];
                for (long j = 0; j < k; j++) { ex[i][j] = (int)e[i * k + j]; wx[i][j] = w[i * k + j]; }
            }
            var decision = new RoutingDecision(Step, layer, seqs, pos, ids, ex, wx);
            foreach (var o in observers) o.OnRouting(decision);
            experts.Dispose();
            weights.Dispose();
        }
        Routing.Clear();
    }
}
