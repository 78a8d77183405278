using ExpertFlow.Tracing;
using static TorchSharp.torch;

namespace ExpertFlow.Prediction;

/// <summary>
/// One predictor example cut from a traced sequence: the prompt (the first PromptLength tokens, or the
/// whole sequence for a prefill example) and the tokens being processed with their true routing.
/// </summary>
public readonly record struct PredictorExample(TracedSequence Sequence, int PromptLength, int TokenStart, int TokenCount)
{
    /// <summary>Prefill: the prompt is the sequence and its own tokens are processed.</summary>
    public static PredictorExample Prefill(TracedSequence s, int maxLength)
    {
        int n = Math.Min(s.Length, maxLength);
        return new(s, n, 0, n);
    }

    /// <summary>Decode: the first <paramref name="split"/> tokens are the prompt, the following ones are generated.</summary>
    public static PredictorExample Decode(TracedSequence s, int split, int maxLength) =>
        new(s, Math.Min(split, maxLength), split, Math.Min(s.Length - split, maxLength));
}

/// <summary>Tensors for a batch of examples, padded; <see cref="Mask"/> marks real decoder tokens.</summary>
public sealed class PredictorBatch : IDisposable
{
    public required Tensor PromptIds { get; init; }
    public required Tensor PromptLengths { get; init; }
    public required Tensor TokenIds { get; init; }
    public required Tensor TokenStart { get; init; }
    /// <summary>[B, S, L, E] 0/1 truth.</summary>
    public required Tensor Targets { get; init; }
    /// <summary>[B, S] 1 for real tokens, 0 for padding.</summary>
    public required Tensor Mask { get; init; }

    public static PredictorBatch Build(IReadOnlyList<PredictorExample> examples, RoutingTraceHeader header, Device device)
    {
        int b = examples.Count;
        int p = Math.Max(1, examples.Max(e => e.PromptLength));
        int s = Math.Max(1, examples.Max(e => e.TokenCount));
        int l = header.NumLayers, experts = header.NumExperts, k = header.TopK;
        var prompt = new long[b * p];
        var lengths = new long[b];
        var tokens = new long[b * s];
        var start = new long[b];
        var targets = new float[b * s * l * experts];
        var mask = new float[b * s];
        for (int i = 0; i < b; i++)
        {
            var ex = examples[i];
            lengths[i] = Math.Max(1, ex.PromptLength);
            for (int j = 0; j < ex.PromptLength; j++) prompt[i * p + j] = ex.Sequence.TokenIds[j];
            start[i] = ex.TokenStart;
            for (int j = 0; j < ex.TokenCount; j++)
            {
                int pos = ex.TokenStart + j;
                tokens[i * s + j] = ex.Sequence.TokenIds[pos];
                mask[i * s + j] = 1;
                var route = ex.Sequence.Experts[pos];
                for (int layer = 0; layer < l; layer++)
                    for (int r = 0; r < k; r++)
                        targets[((i * s + j) * l + layer) * experts + route[layer * k + r]] = 1;
            }
        }
        return new PredictorBatch
        {
            PromptIds = tensor(prompt, [b, p], device: device),
            PromptLengths = tensor(lengths, [b], device: device),
            TokenIds = tensor(tokens, [b, s], device: device),
            TokenStart = tensor(start, [b], device: device),
            Targets = tensor(targets, [b, s, l, experts], device: device),
            Mask = tensor(mask, [b, s], device: device),
        };
    }

    public void Dispose()
    {
        PromptIds.Dispose(); PromptLengths.Dispose(); TokenIds.Dispose(); TokenStart.Dispose(); Targets.Dispose(); Mask.Dispose();
    }
}
