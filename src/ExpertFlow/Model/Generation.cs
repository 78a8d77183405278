using System.Diagnostics;
using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>Greedy or sampled generation for a batch of prompts with one KV cache.</summary>
public static class Generation
{
    public static GenerationResult Generate(IMoeModel model, IReadOnlyList<int[]> prompts, GenerationOptions options, CancellationToken cancel = default)
    {
        if (prompts.Count == 0) throw new ArgumentException("No prompt given.");
        if (prompts.Any(p => p.Length == 0)) throw new ArgumentException("A prompt is empty; give at least one token.");
        if (options.MaxNewTokens < 1) throw new ArgumentException($"new tokens must be at least 1 (got {options.MaxNewTokens}).");
        options.Sampling.Validate();
        var stops = (options.StopTokens ?? model.Config.EosTokenIds).ToHashSet();
        int rows = prompts.Count;
        int capacity = model.Config.IsEncoderDecoder ? options.MaxNewTokens + 1 : prompts.Max(p => p.Length) + options.MaxNewTokens;
        if (!model.Config.IsEncoderDecoder && model.Config.Rope.Kind != RopeKind.Dynamic && capacity > model.Config.MaxPositionEmbeddings)
            throw new ArgumentException($"The longest prompt ({prompts.Max(p => p.Length)} tokens) plus {options.MaxNewTokens} new tokens needs {capacity} positions, " +
                $"more than the model's max_position_embeddings ({model.Config.MaxPositionEmbeddings}).");
        var first = model.BeginSequences(prompts);
        model.ResetCache(rows, capacity);
        var outputs = Enumerable.Range(0, rows).Select(_ => new List<int>()).ToArray();
        var done = new bool[rows];
        // a TorchSharp Generator is a CPU generator: sampling draws from the (small) probabilities on the CPU
        using var generator = options.Sampling.Greedy ? null : new TorchSharp.torch.Generator((ulong)options.Sampling.Seed, CPU);
        var watch = Stopwatch.StartNew();
        // what the repetition penalty looks at: each row's prompt (its first step) and its new tokens
        var history = first.Select((f, r) => f.Concat(outputs[r])).ToArray();
        int[] next;
        using (var logits = model.Step(first)) next = TokenSampler.Pick(logits, options.Sampling, generator, history);
        if (model.Device.type == TorchSharp.DeviceType.CUDA) cuda.synchronize();
        double prefill = watch.Elapsed.TotalSeconds;
        watch.Restart();
        int steps = 0;
        while (true)
        {
            for (int r = 0; r < rows; r++)
            {
                if (done[r]) continue;
                outputs[r].Add(next[r]);
                options.OnToken?.Invoke(r, next[r]);
                if (stops.Contains(next[r]) || outputs[r].Count >= options.MaxNewTokens || options.Ended?.Invoke(r, outputs[r]) == true) done[r] = true;
            }
            if (done.All(d => d)) break;
            cancel.ThrowIfCancellationRequested();
            // finished rows feed no token: their cache stays as it is and their logits are ignored
            var feed = Enumerable.Range(0, rows).Select(r => done[r] ? Array.Empty<int>() : [next[r]]).ToArray();
            using var logits = model.Step(feed);
            next = TokenSampler.Pick(logits, options.Sampling, generator, history);
            steps++;
        }
        double decode = watch.Elapsed.TotalSeconds;
        return new GenerationResult(outputs.Select(o => o.ToArray()).ToArray(), prefill, decode, steps, outputs.Sum(o => o.Count));
    }
}
