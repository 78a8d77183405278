using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Toolkit.Runtime.Cuda;
using static TorchSharp.torch;

namespace ExpertFlow.Prediction;

/// <summary>
/// The incremental predictor's decode step (one token per sequence) in managed code, for a predictor on the CPU. A token
/// through the demo predictor's two decoder blocks is about 0.3 M multiply-adds: tens of microseconds, where the same
/// step as TorchSharp operations (about 80 of them, a few microseconds each plus their tensors) takes a millisecond, as
/// long as the model's own step on the CPU. Same arithmetic as <see cref="RoutingPathPredictor.DecodeCached"/> (pre-norm
/// blocks, LayerNorm eps 1e-5, exact GELU, attention scaled by 1/sqrt(head dim)), reading and writing the same cache
/// pools in place; tests hold the two to 1e-5.
/// </summary>
internal sealed class PredictorHostStep
{
    readonly PredictorConfig config;
    readonly float[] embedding, positions, normW, normB, headW, headB;
    readonly Block[] blocks;

    public PredictorHostStep(RoutingPathPredictor predictor)
    {
        config = predictor.Config;
        var p = predictor.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        float[] W(string name) => p.TryGetValue(name, out var t) ? t.detach().cpu().to(ScalarType.Float32).data<float>().ToArray()
            : throw new InvalidOperationException($"the routing-path predictor has no parameter '{name}'");
        embedding = W("shared.weight");
        positions = W("decoder_positions.weight");
        normW = W("decoder_norm.weight");
        normB = W("decoder_norm.bias");
        blocks = Enumerable.Range(0, config.DecoderLayers).Select(i => new Block(n => W($"decoder.{i}.{n}"))).ToArray();
        headW = Enumerable.Range(0, config.NumLayers).SelectMany(l => W($"heads.{l}.weight")).ToArray();
        headB = Enumerable.Range(0, config.NumLayers).SelectMany(l => W($"heads.{l}.bias")).ToArray();
    }

    /// <summary>
    /// Decodes one token per entry: <paramref name="tokens"/>[i] at <paramref name="positionsOf"/>[i] for the sequence in
    /// pool row <paramref name="rows"/>[i] with <paramref name="pastLengths"/>[i] cached tokens and a prompt of
    /// <paramref name="promptLengths"/>[i]; writes the token's keys and values into the self pools and returns the
    /// probabilities [entry][layer x expert].
    /// </summary>
    public float[][] Step(int[] tokens, int[] positionsOf, int[] rows, int[] pastLengths, int[] promptLengths, Tensor[] selfPool, Tensor[] crossPool)
    {
        int d = config.ModelDim, window = (int)selfPool[0].shape[1], crossWindow = (int)crossPool[0].shape[1];
        var result = new float[tokens.Length][];
        var x = new float[d];
        var h = new float[Math.Max(3 * d, config.FeedForwardDim)];
        var o = new float[d];
        var scores = new float[Math.Max(window, crossWindow)];
        for (int i = 0; i < tokens.Length; i++)
        {
            int pos = Math.Min(positionsOf[i], config.MaxPositions - 1);
            for (int j = 0; j < d; j++) x[j] = embedding[tokens[i] * d + j] + positions[pos * d + j];
            for (int b = 0; b < blocks.Length; b++)
            {
                var block = blocks[b];
                var self = Row(selfPool[b], rows[i], window, 2 * d);
                var cross = Row(crossPool[b], rows[i], crossWindow, 2 * d);
                // self-attention: the new key and value join the cache, then the query attends to all of it
                LayerNorm(x, block.SelfNormW, block.SelfNormB, o);
                Linear(block.Qkv, block.QkvB, o, h.AsSpan(0, 3 * d));
                h.AsSpan(d, 2 * d).CopyTo(self.Slice(pastLengths[i] * 2 * d, 2 * d));
                Attend(h.AsSpan(0, d), self, pastLengths[i] + 1, scores, o);
                AddLinear(block.Out, block.OutB, o, x);
                // cross-attention over the prompt's keys and values
                LayerNorm(x, block.CrossNormW, block.CrossNormB, o);
                Linear(block.CrossQ, block.CrossQB, o, h.AsSpan(0, d));
                Attend(h.AsSpan(0, d), cross, promptLengths[i], scores, o);
                AddLinear(block.CrossOut, block.CrossOutB, o, x);
                // feed-forward
                LayerNorm(x, block.FfNormW, block.FfNormB, o);
                var u = h.AsSpan(0, config.FeedForwardDim);
                Linear(block.FfIn, block.FfInB, o, u);
                for (int j = 0; j < u.Length; j++) u[j] = Gelu(u[j]);
                AddLinear(block.FfOut, block.FfOutB, u, x);
            }
            LayerNorm(x, normW, normB, o);
            var probabilities = new float[headB.Length];
            Linear(headW, headB, o, probabilities);
            for (int j = 0; j < probabilities.Length; j++) probabilities[j] = 1 / (1 + MathF.Exp(-probabilities[j]));
            result[i] = probabilities;
        }
        return result;
    }

    /// <summary>Pool row <paramref name="row"/> ([window, width] floats of a contiguous CPU tensor [rows, window, width]) as a span.</summary>
    static unsafe Span<float> Row(Tensor pool, int row, int window, int width) =>
        new((float*)TensorMemory.DataPointer(pool) + (long)row * window * width, window * width);

    /// <summary>Multi-head attention of one query over the first <paramref name="count"/> entries of a keys|values cache.</summary>
    void Attend(ReadOnlySpan<float> query, ReadOnlySpan<float> cache, int count, float[] scores, Span<float> output)
    {
        int d = config.ModelDim, heads = config.Heads, hd = d / heads;
        float scale = 1 / MathF.Sqrt(hd);
        for (int head = 0; head < heads; head++)
        {
            var q = query.Slice(head * hd, hd);
            float max = float.NegativeInfinity;
            for (int j = 0; j < count; j++)
            {
                scores[j] = TensorPrimitives.Dot(q, cache.Slice(j * 2 * d + head * hd, hd)) * scale;
                max = Math.Max(max, scores[j]);
            }
            float sum = 0;
            for (int j = 0; j < count; j++) sum += scores[j] = MathF.Exp(scores[j] - max);
            var o = output.Slice(head * hd, hd);
            o.Clear();
            for (int j = 0; j < count; j++)
                TensorPrimitives.MultiplyAdd(cache.Slice(j * 2 * d + d + head * hd, hd), scores[j] / sum, o, o);
        }
    }

    static void LayerNorm(ReadOnlySpan<float> x, float[] w, float[] b, Span<float> output)
    {
        float mean = TensorPrimitives.Sum(x) / x.Length;
        float variance = 0;
        foreach (float v in x) variance += (v - mean) * (v - mean);
        float inv = 1 / MathF.Sqrt(variance / x.Length + 1e-5f);
        for (int j = 0; j < x.Length; j++) output[j] = (x[j] - mean) * inv * w[j] + b[j];
    }

    /// <summary>output = W input + b, W row-major [output, input].</summary>
    static void Linear(float[] w, float[] b, ReadOnlySpan<float> input, Span<float> output)
    {
        int n = input.Length;
        for (int j = 0; j < output.Length; j++) output[j] = TensorPrimitives.Dot(w.AsSpan(j * n, n), input) + b[j];
    }

    /// <summary>x += W input + b.</summary>
    static void AddLinear(float[] w, float[] b, ReadOnlySpan<float> input, Span<float> x)
    {
        int n = input.Length;
        for (int j = 0; j < x.Length; j++) x[j] += TensorPrimitives.Dot(w.AsSpan(j * n, n), input) + b[j];
    }

    /// <summary>Exact GELU, x * Phi(x), with erfc to 1.2e-7 relative (Numerical Recipes' Chebyshev fit).</summary>
    static float Gelu(float x)
    {
        double z = Math.Abs(x) / Math.Sqrt(2), t = 1 / (1 + 0.5 * z);
        double erfc = t * Math.Exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
            t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
        double erf = x >= 0 ? 1 - erfc : erfc - 1;
        return (float)(0.5 * x * (1 + erf));
    }

    /// <summary>One decoder block's weights (row-major, as torch stores them).</summary>
    sealed class Block(Func<string, float[]> w)
    {
        public readonly float[] SelfNormW = w("self_norm.weight"), SelfNormB = w("self_norm.bias"), Qkv = w("self_qkv.weight"), QkvB = w("self_qkv.bias"),
            Out = w("self_out.weight"), OutB = w("self_out.bias"), CrossNormW = w("cross_norm.weight"), CrossNormB = w("cross_norm.bias"),
            CrossQ = w("cross_q.weight"), CrossQB = w("cross_q.bias"), CrossOut = w("cross_out.weight"), CrossOutB = w("cross_out.bias"),
            FfNormW = w("ff_norm.weight"), FfNormB = w("ff_norm.bias"), FfIn = w("ff_in.weight"), FfInB = w("ff_in.bias"),
            FfOut = w("ff_out.weight"), FfOutB = w("ff_out.bias");
    }
}
