using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>The segmented CUDA graph path: decode steps with offloaded experts, graphs between expert layers (<see cref="DecodeGraphs"/>).</summary>
public sealed partial class MoeCausalLM
{
    /// <summary>A decode step as segmented CUDA graphs between expert layers (experts through the provider), or null when not eligible.</summary>
    Tensor? TrySegmentedStep(int[][] tokens, int[] starts, bool allPositions, int[]? sequenceIds)
    {
        int rows = tokens.Length;
        var cache = this.cache!; // Step checked it
        if (segmented != null && UseCudaGraphs && !allPositions && SegmentedEligible(tokens))
        {
            using var noGrad = no_grad();
            var ctx1 = new StepContext
            {
                Step = step, Rows = rows, Width = 1, Counts = tokens.Select(t => t.Length).ToArray(), Starts = starts, Tokens = tokens,
                SequenceIds = sequenceIds ?? Enumerable.Range(0, rows).ToArray(), Observed = Observers.Count > 0,
            };
            if (ctx1.Observed)
            {
                var info = new StepInfo(ctx1.Step, StepInfo.IsPromptStep(starts, tokens), ctx1.SequenceIds, starts, tokens);
                foreach (var o in Observers) o.OnStep(info);
            }
            segmentStep = ctx1;
            Tensor? replayed;
            try { replayed = segmented.TryStep(cache, tokens.Select(t => (long)t[0]).ToArray(), starts.Select(s0 => (long)s0).ToArray(), Device, this); }
            finally { segmentStep = null; }
            if (replayed is not null)
            {
                step++;
                for (int r = 0; r < rows; r++) cache.Lengths[r]++;
                ctx1.Publish(Observers);
                return replayed;
            }
        }
        return null;
    }

    /// <summary>
    /// Whether a step runs as segmented CUDA graphs: every row feeds exactly one token and some MoE layer's experts are
    /// not resident as stacked tensors (otherwise the whole-step graph applies).
    /// </summary>
    bool SegmentedEligible(int[][] tokens)
    {
        // dynamic NTK RoPE changes its frequencies with the step's length, which a captured graph cannot follow
        return tokens.All(t => t.Length == 1) && moeIndex.Length > 0 && !AllExpertsStacked && !rope.LengthDependent;
    }

    int DecodeGraphs.IStepBody.ExpertBreaks => moeIndex.Length;

    DecodeGraphs.Buffers[] DecodeGraphs.IStepBody.AllocateBuffers(int rows)
    {
        long h = Config.HiddenSize;
        int guessWidth = GuessWidth;
        return moeIndex.Select((i, j) =>
        {
            var moe = layers[i].Moe!;
            int k = moe.TopK;
            int g = j + 1 < moeIndex.Length ? guessWidth : 0;
            var routing = zeros([rows, k + g], ScalarType.Int64, Device).DetachFromDisposeScope();
            return new DecodeGraphs.Buffers
            {
                Normed = zeros([rows, h], DType, Device).DetachFromDisposeScope(),
                Residual = zeros([rows, h], DType, Device).DetachFromDisposeScope(),
                Routing = routing,
                Experts = routing.narrow(1, 0, k).DetachFromDisposeScope(),
                Guess = g > 0 ? routing.narrow(1, k, g).DetachFromDisposeScope() : null,
                Weights = zeros([rows, k], moe.WeightsDType(DType), Device).DetachFromDisposeScope(),
                Shared = moe.SharedWidth > 0 ? zeros([rows, moe.SharedWidth], DType, Device).DetachFromDisposeScope() : null,
                BySlot = zeros([rows * k, h], DType, Device).DetachFromDisposeScope(),
            };
        }).ToArray();
    }

    /// <summary>
    /// Segment j of a decode step broken at its MoE layers (see <see cref="DecodeGraphs"/>): the (j-1)-th MoE layer's combine (or
    /// the embedding), the layers up to the j-th MoE layer's router, whose outputs go to <paramref name="buffers"/>[j];
    /// the last segment returns fp32 logits. Per-step values come from device tensors, as in <see cref="DecodeFixedShape"/>.
    /// </summary>
    Tensor? DecodeGraphs.IStepBody.Segment(int j, Tensor ids, Tensor positions, DecodeGraphs.Buffers[] buffers)
    {
        var (c, attnStep) = FixedShapeStep(positions);
        int rows = (int)ids.shape[0];
        long h = Config.HiddenSize;
        Tensor hidden;
        int first;
        if (j == 0)
        {
            hidden = Embed(ids).view(rows, 1, h);
            first = 0;
        }
        else
        {
            var b = buffers[j - 1];
            var moe = layers[moeIndex[j - 1]].Moe!;
            var y = MoeBlock.WeightedSum(b.Weights, b.BySlot, rows, moe.TopK, h, DType);
            hidden = moe.Combine(b.Residual, y, b.Shared).view(rows, 1, h);
            first = moeIndex[j - 1] + 1;
        }
        int last = j < moeIndex.Length ? moeIndex[j] : layers.Length - 1;
        for (int i = first; i <= last; i++)
        {
            using var layerScope = NewDisposeScope();
            var layer = layers[i];
            hidden = layer.Attention.Forward(Ops.RmsNorm(hidden, layer.InputNorm.Value, Config.NormEps), hidden, attnStep, c);
            var normed = Ops.RmsNorm(hidden, layer.PostNorm.Value, Config.NormEps);
            if (layer.Moe != null)
            {
                var flat = normed.view(rows, h);
                var (experts, weights, shared) = layer.Moe.Router(flat);
                var b = buffers[j];
                b.Normed.copy_(flat);
                b.Residual.copy_(hidden.view(rows, h));
                b.Experts.copy_(experts);
                b.Weights.copy_(weights);
                b.Shared?.copy_(shared!);
                if (b.Guess is { } guess) guess.copy_(Guess(moeIndex[j + 1], hidden.view(rows, h), (int)guess.shape[1]));
                return null;
            }
            hidden = (hidden + Ops.GatedFfn(normed, layer.Gate!.Value, layer.Down!.Value, Config.HiddenAct)).MoveToOuterDisposeScope();
        }
        return Head(hidden.view(rows, h));
    }

    void DecodeGraphs.IStepBody.Experts(int j, DecodeGraphs.Buffers[] buffers)
    {
        var b = buffers[j];
        int layer = moeIndex[j];
        var moe = layers[layer].Moe!;
        using var scope = NewDisposeScope();
        var routing = b.Routing.cpu().data<long>().ToArray(); // the one host round trip per MoE layer (routing and guess)
        int g = (int)(b.Guess?.shape[1] ?? 0);
        var (chosen, guess) = MoeBlock.SplitColumns(routing, moe.TopK, g);
        if (segmentStep is { Observed: true } ctx)
            ctx.Routing.Add((layer, b.Experts.contiguous().clone().DetachFromDisposeScope(), b.Weights.clone().DetachFromDisposeScope()));
        moe.ExpertsBySlot(b.Normed, chosen, moe.TopK, ExpertProvider, into: b.BySlot, guess: g > 0 ? (moeIndex[j + 1], guess, g) : null);
    }
}
