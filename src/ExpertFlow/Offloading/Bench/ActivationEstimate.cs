using ExpertFlow.Model;
using static TorchSharp.torch;

namespace ExpertFlow.Offloading.Bench;

/// <summary>
/// A reserve for activations and temporaries of the largest step (the prefill), counted in the budget.
/// Deliberately generous (every large temporary of a decoder layer counted twice, plus 128 MiB for library
/// workspaces); the benchmark reports the driver-measured memory next to it.
/// </summary>
public static class ActivationEstimate
{
    public static long Bytes(MoeConfig c, int rows, int promptTokens, int capacity, ScalarType dtype)
    {
        long e = dtype == ScalarType.Float32 ? 4 : 2;
        long n = (long)rows * promptTokens;
        long qd = (long)c.NumHeads * c.HeadDim, kvd = (long)c.NumKvHeads * c.HeadDim;
        long hidden = n * c.HiddenSize * e * 8;
        long attention = n * (qd + 2 * kvd) * e * 2 + (long)rows * c.NumHeads * promptTokens * capacity * 4 * 2;
        long experts = n * c.TopK * (2L * c.HiddenSize + 2L * 2 * c.ExpertIntermediateSize) * e;
        long shared = n * 2L * 2 * Math.Max(c.SharedExpertIntermediateSize, c.IntermediateSize) * e;
        long logits = (long)rows * c.VocabSize * (4 + e) * 2;
        return hidden + attention + experts + shared + logits + (128L << 20);
    }
}
