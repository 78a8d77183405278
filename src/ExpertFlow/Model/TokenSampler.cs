using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>Turns a step's logits into next tokens: argmax, or temperature, top-k and top-p sampling.</summary>
public static class TokenSampler
{
    /// <summary>Next token per row from fp32 logits [rows, V].</summary>
    public static int[] Pick(Tensor logits, SamplingOptions s, TorchSharp.torch.Generator? generator)
    {
        using var scope = NewDisposeScope();
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
}
