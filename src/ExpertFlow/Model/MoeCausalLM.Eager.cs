using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>The eager path: any step, layer by layer, each layer in its own dispose scope.</summary>
public sealed partial class MoeCausalLM
{
    /// <summary>Any step, computed eagerly layer by layer (prompts, several tokens per row, observed or offloaded steps off CUDA).</summary>
    Tensor EagerStep(int[][] tokens, int[] starts, bool allPositions, int[]? sequenceIds, int width)
    {
        int rows = tokens.Length;
        var cache = this.cache!; // Step checked it
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var counts = tokens.Select(t => t.Length).ToArray();
        var flatIds = new long[rows * width];
        var positions = new long[rows * width];
        var valid = new List<long>();
        for (int r = 0; r < rows; r++)
            for (int t = 0; t < width; t++)
            {
                flatIds[r * width + t] = t < counts[r] ? tokens[r][t] : 0;
                positions[r * width + t] = Math.Min(starts[r] + t, cache.Capacity - 1);
                if (t < counts[r]) valid.Add(r * width + t);
            }
        bool allValid = valid.Count == rows * width;
        var ctx = new StepContext
        {
            Step = step++, Rows = rows, Width = width, Counts = counts, Starts = starts, Tokens = tokens,
            SequenceIds = sequenceIds ?? Enumerable.Range(0, rows).ToArray(),
            ValidIndex = allValid ? null : tensor(valid.ToArray(), ScalarType.Int64, Device),
            Observed = Observers.Count > 0,
        };
        if (ctx.Observed)
        {
            var info = new StepInfo(ctx.Step, StepInfo.IsPromptStep(starts, tokens), ctx.SequenceIds, starts, tokens);
            foreach (var o in Observers) o.OnStep(info);
        }
        var ids = tensor(flatIds, ScalarType.Int64, Device);
        var pos = tensor(positions, ScalarType.Int64, Device).view(rows, width);
        long keyLength = Enumerable.Range(0, rows).Max(r => starts[r] + Math.Max(counts[r], 1));
        keyLength = Math.Min(Math.Max(keyLength, width), cache.Capacity);
        var slots = new List<long>(valid.Count);
        for (int r = 0; r < rows; r++)
            for (int t = 0; t < counts[r]; t++) slots.Add((long)r * cache.Capacity + starts[r] + t);
        // one new token per row and all rows equally long: every cached key is visible, no mask needed
        bool unmasked = width == 1 && counts.All(n => n == 1) && starts.All(s0 => s0 == starts[0]) && keyLength == starts[0] + 1;
        long seqLen = Enumerable.Range(0, rows).Max(r => starts[r] + counts[r]);
        var attnStep = MakeStep(pos, rows, width, keyLength, tensor(slots.ToArray(), ScalarType.Int64, Device), ctx.ValidIndex, unmasked, seqLen);

        var hidden = RunLayers(Embed(ids).view(rows, width, Config.HiddenSize), attnStep, ctx);
        for (int r = 0; r < rows; r++) cache.Lengths[r] += counts[r];

        Tensor selected;
        if (allPositions || width == 1 && counts.All(n => n == 1)) selected = allPositions ? hidden : hidden.view(rows, Config.HiddenSize);
        else
        {
            var last = Enumerable.Range(0, rows).Select(r => (long)(r * width + Math.Max(counts[r] - 1, 0))).ToArray();
            selected = hidden.view(rows * width, Config.HiddenSize).index_select(0, tensor(last, ScalarType.Int64, Device));
        }
        var logits = Head(selected);
        if (!allPositions && counts.Any(n => n == 0))
            logits = logits * tensor(counts.Select(n => n > 0 ? 1f : 0f).ToArray(), ScalarType.Float32, Device).unsqueeze(1);
        ctx.Publish(Observers);
        return logits.MoveToOuterDisposeScope();
    }

    /// <summary>All decoder layers on hidden states [rows, width, H]; returns the last layer's output.</summary>
    Tensor RunLayers(Tensor hidden, DecoderStep attnStep, StepContext ctx)
    {
        int rows = ctx.Rows, width = ctx.Width;
        int guessWidth = GuessWidth;
        for (int i = 0; i < layers.Length; i++)
        {
            var layer = layers[i];
            // One scope per layer: its temporaries go back to the allocator before the next layer starts. Under the
            // step's scope alone every layer's temporaries would live until the step ends (3.8 GiB for a 512-token
            // prefill of the Qwen1.5-MoE shape, measured).
            using var layerScope = NewDisposeScope();
            hidden = layer.Attention.Forward(Ops.RmsNorm(hidden, layer.InputNorm.Value, Config.NormEps), hidden, attnStep, cache!);
            var normed = Ops.RmsNorm(hidden, layer.PostNorm.Value, Config.NormEps);
            if (layer.Moe != null)
            {
                var flat = normed.view(rows * width, Config.HiddenSize);
                var residual = hidden.view(rows * width, Config.HiddenSize);
                if (ctx.ValidIndex is not null)
                {
                    // padding rows keep their hidden state; only valid tokens reach the router and the experts
                    flat = flat.index_select(0, ctx.ValidIndex);
                    residual = residual.index_select(0, ctx.ValidIndex);
                }
                var guess = guessWidth > 0 && NextMoeLayer(i) is int next ? (Guess(next, residual, guessWidth), next) : ((Tensor, int)?)null;
                var y = layer.Moe.Forward(flat, residual, ExpertProvider, ctx, guess);
                hidden = ctx.ValidIndex is null ? y.view(rows, width, Config.HiddenSize)
                    : hidden.view(rows * width, Config.HiddenSize).index_copy(0, ctx.ValidIndex, y).view(rows, width, Config.HiddenSize);
            }
            else hidden = hidden + Ops.GatedFfn(normed, layer.Gate!.Value, layer.Down!.Value, Config.HiddenAct);
            hidden = hidden.MoveToOuterDisposeScope();
        }
        return hidden;
    }

    /// <summary>Experts per token the provider wants guessed for each next MoE layer (0: no look-ahead guesses).</summary>
    int GuessWidth => (ExpertProvider as IAnticipatingProvider)?.AnticipatedExperts ?? 0;

    /// <summary>The first MoE layer after layer <paramref name="i"/>, or null.</summary>
    int? NextMoeLayer(int i)
    {
        foreach (int m in moeIndex) if (m > i) return m;
        return null;
    }

    /// <summary>
    /// Look-ahead guess of MoE layer <paramref name="next"/>'s experts from an earlier layer's post-attention hidden states
    /// [N, H] (that layer's MoE input before its norm): the next layer's norm and router applied to them, top
    /// <paramref name="k"/> per token. Successive layers' inputs are alike, so the guess is often right (on the bench's
    /// random Qwen1.5-MoE shape the best guess is one of the next layer's experts 89 % of the time; docs/expertflow-offloading.md).
    /// </summary>
    Tensor Guess(int next, Tensor hidden, int k) =>
        layers[next].Moe!.Guess(Ops.RmsNorm(hidden, layers[next].PostNorm.Value, Config.NormEps), k);

    // seqLen: the step's longest sequence (positions), for RoPE whose frequencies depend on it (dynamic NTK; CUDA graphs never run those)
    DecoderStep MakeStep(Tensor pos, int rows, int width, long keyLength, Tensor slots, Tensor? validIndex, bool unmasked, long seqLen = 0)
    {
        var flatPos = pos.reshape(-1);
        var (cosRows, sinRows) = rope.Rows(flatPos, seqLen);
        var cos = cosRows.view(rows, width, 1, Config.HeadDim).to(DType);
        var sin = sinRows.view(rows, width, 1, Config.HeadDim);
        long half = Config.HeadDim / 2;
        var signedSin = cat([-sin.narrow(-1, 0, half), sin.narrow(-1, half, half)], -1).to(DType);
        Tensor? mask = null, slidingMask = null;
        bool sliding = Config.SlidingLayers.Any(x => x);
        if (!unmasked || sliding)
        {
            var keys = arange(0, keyLength, 1, ScalarType.Int64, Device).view(1, 1, keyLength);
            var query = pos.unsqueeze(-1);
            var allowed = keys <= query; // [B, T, S]
            if (!unmasked) mask = Ops.MaskedFill(zeros([rows, width, keyLength], DType, Device), allowed.logical_not(), double.NegativeInfinity).unsqueeze(1);
            // transformers' sliding window: key position > query position - sliding_window
            if (sliding) slidingMask = Ops.MaskedFill(zeros([rows, width, keyLength], DType, Device),
                allowed.logical_and(keys > query - Config.SlidingWindow).logical_not(), double.NegativeInfinity).unsqueeze(1);
        }
        return DecoderStep.Create(cos, signedSin, slots, validIndex, mask, keyLength, Config.NumHeads / Config.NumKvHeads, slidingMask);
    }
}
