using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>The whole-step CUDA graph path: decode steps with resident stacked experts replayed from one graph per KV cache.</summary>
public sealed partial class MoeCausalLM
{
    /// <summary>The whole decode step replayed from a CUDA graph (resident stacked experts), or null when the step is not eligible.</summary>
    Tensor? TryWholeGraphStep(int[][] tokens, int[] starts, bool allPositions)
    {
        int rows = tokens.Length;
        var cache = this.cache!; // Step checked it
        if (graphs != null && UseCudaGraphs && !allPositions && GraphEligible(tokens, starts))
        {
            using var noGrad = no_grad();
            var stepIds = tokens.Select(t => t.Length == 1 ? (long)t[0] : 0L).ToArray();
            var stepPositions = starts.Select(s0 => (long)s0).ToArray(); // below capacity: checked above and by GraphEligible
            var replayed = graphs.TryStep(cache, stepIds, stepPositions, Device, new WholeStep(this));
            if (replayed is not null)
            {
                step++;
                for (int r = 0; r < rows; r++) cache.Lengths[r] += tokens[r].Length;
                if (tokens.All(t => t.Length == 1)) return replayed;
                // rows that fed no token give zeros, as in an eager step (the result stays in the caller's scope)
                using (var active = tensor(tokens.Select(t => t.Length == 1 ? 1f : 0f).ToArray(), ScalarType.Float32, Device))
                using (var column = active.unsqueeze(1))
                    replayed.mul_(column);
                return replayed;
            }
        }
        return null;
    }

    /// <summary>
    /// Whether a step can run from a CUDA graph: one token per row (finished rows feed none and must have room for the
    /// unused write of their dummy token), experts resident as stacked tensors (the few-token and dense kernels never
    /// read the routing on the host) and nobody observing the routing.
    /// </summary>
    bool GraphEligible(int[][] tokens, int[] starts)
    {
        if (Observers.Count > 0 || tokens.Length > MoeBlock.DenseTokenLimit || rope.LengthDependent) return false;
        if (tokens.Any(t => t.Length > 1) || tokens.All(t => t.Length == 0)) return false;
        for (int r = 0; r < tokens.Length; r++)
            if (tokens[r].Length == 0 && starts[r] >= cache!.Capacity) return false;
        return AllExpertsStacked;
    }

    /// <summary>Every MoE layer's experts are resident as stacked tensors (their kernels never read the routing on the host).</summary>
    bool AllExpertsStacked => moeIndex.All(i => (ExpertProvider as IStackedExperts)?.Stacked(i) is not null);

    /// <summary>The whole decode step as one graph body (<see cref="DecodeFixedShape"/>), for resident stacked experts.</summary>
    sealed class WholeStep(MoeCausalLM model) : DecodeGraphs.IStepBody
    {
        public int ExpertBreaks => 0;
        public DecodeGraphs.Buffers[] AllocateBuffers(int rows) => [];
        public Tensor? Segment(int j, Tensor ids, Tensor positions, DecodeGraphs.Buffers[] buffers) => model.DecodeFixedShape(ids, positions);
        public void Experts(int j, DecodeGraphs.Buffers[] buffers) => throw new InvalidOperationException("a whole-step graph has no expert breaks");
    }

    /// <summary>
    /// One decode token per row with every per-step value read from device tensors, no host synchronisation and
    /// shapes fixed by the cache: <paramref name="ids"/> [rows] and <paramref name="positions"/> [rows] (int64) give
    /// RoPE rows, the cache slots written and an attention mask over the whole cache capacity. The body of a CUDA-graph
    /// step; equal to an eager step up to floating-point order. Does not advance the cache lengths. Returns fp32 logits [rows, V].
    /// </summary>
    internal Tensor DecodeFixedShape(Tensor ids, Tensor positions)
    {
        var (_, attnStep) = FixedShapeStep(positions);
        int rows = (int)ids.shape[0];
        var ctx = new StepContext
        {
            Step = step, Rows = rows, Width = 1, Counts = new int[rows], Starts = new int[rows], Tokens = [],
            SequenceIds = [], Observed = false,
        };
        var hidden = RunLayers(Embed(ids).view(rows, 1, Config.HiddenSize), attnStep, ctx);
        return Head(hidden.view(rows, Config.HiddenSize));
    }

    /// <summary>
    /// Attention inputs of a one-token-per-row step from device positions [rows]: RoPE rows, cache slots, and a mask
    /// over the whole cache capacity (shapes fixed by the cache, as a CUDA graph needs).
    /// </summary>
    (KvCache Cache, DecoderStep Step) FixedShapeStep(Tensor positions)
    {
        var c = cache ?? throw new InvalidOperationException("Call ResetCache before decoding.");
        int rows = (int)positions.shape[0];
        var slots = positions + arange(0, rows, 1, ScalarType.Int64, Device) * c.Capacity;
        return (c, MakeStep(positions.view(rows, 1), rows, 1, c.Capacity, slots, null, unmasked: false));
    }
}
