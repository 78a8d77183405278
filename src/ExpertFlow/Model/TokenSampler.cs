using TorchSharp;
using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>Turns a step's logits into next tokens: argmax, or temperature, top-k and top-p sampling.</summary>
public static class TokenSampler
{
    /// <summary>
    /// Next token per row from fp32 logits [rows, V]. With a repetition penalty, <paramref name="history"/> holds each row's
    /// tokens so far (prompt and generated): their logits are divided by the penalty where positive, multiplied where
    /// negative, as transformers does.
    /// </summary>
    public static int[] Pick(Tensor logits, SamplingOptions s, TorchSharp.torch.Generator? generator, IReadOnlyList<IEnumerable<int>>? history = null)
    {
        using var scope = NewDisposeScope();
        if (s.RepetitionPenalty != 1.0 && history != null) logits = Penalize(logits, history, s.RepetitionPenalty);
        Tensor chosen;
        if (s.Greedy) chosen = logits.argmax(-1);
        else
        {
            var scaled = logits / s.Temperature;
            if (s.TopK > 0 && s.TopK < scaled.shape[1])
            {
                var kth = scaled.topk(s.TopK, -1).values.narrow(1, s.TopK - 1, 1);
                scaled = Ops.MaskedFill(scaled, scaled < kth, double.NegativeInfinity);
            }
            if (s.TopP < 1)
            {
                var (sorted, order) = scaled.sort(-1, descending: true);
                var cumulative = sorted.softmax(-1).cumsum(-1);
                // drop a token when the tokens before it already reach top_p (the most likely token always stays)
                var drop = (cumulative - sorted.softmax(-1)) >= s.TopP;
                var dropOriginal = zeros_like(drop).scatter(1, order, drop);
                scaled = Ops.MaskedFill(scaled, dropOriginal, double.NegativeInfinity);
            }
            chosen = multinomial(scaled.softmax(-1).cpu(), 1, generator: generator).squeeze(1);
        }
        return chosen.cpu().data<long>().ToArray().Select(v => (int)v).ToArray();
    }

    static Tensor Penalize(Tensor logits, IReadOnlyList<IEnumerable<int>> history, double penalty)
    {
        long vocab = logits.shape[1];
        var rows = new List<long>();
        var columns = new List<long>();
        for (int r = 0; r < history.Count && r < logits.shape[0]; r++)
            foreach (int t in history[r].Distinct())
                if (t >= 0 && t < vocab) { rows.Add(r); columns.Add(t); }
        if (rows.Count == 0) return logits;
        var flat = tensor(rows.Zip(columns, (r, c) => r * vocab + c).ToArray(), ScalarType.Int64, logits.device);
        var copy = logits.clone().view(-1);
        var seen = copy.index_select(0, flat);
        using var p = penalty.ToScalar();
        using var zero = 0.0.ToScalar();
        var adjusted = where(seen > zero, seen / p, seen * p);
        copy.index_copy_(0, flat, adjusted);
        return copy.view(logits.shape);
    }
}
