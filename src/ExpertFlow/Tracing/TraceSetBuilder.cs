using ExpertFlow.Model;

namespace ExpertFlow.Tracing;

/// <summary>
/// Traces a model over a corpus with its own tokenizer: training texts, greedy continuations of other training prompts,
/// and every held-out text (sequence ids 0.., 2,000,000.. and 1,000,000.. respectively).
/// </summary>
public static class TraceSetBuilder
{
    const int HeldOutIds = 1_000_000, GeneratedIds = 2_000_000;

    public static TraceSet Build(IMoeModel model, ModelTokenizer tokenizer, TraceSetOptions options, IProgress<string>? progress = null)
    {
        if (options.TrainEntries < 1) throw new ArgumentException($"at least one training text must be traced (got {options.TrainEntries})");
        progress?.Report($"reading {options.Split.Corpus}");
        var (trainTexts, heldOutTexts) = options.Split.Read();
        if (trainTexts.Count == 0 || heldOutTexts.Count == 0)
            throw new InvalidDataException($"corpus '{options.Split.Corpus}' holds too few texts for a training and a held-out part ({trainTexts.Count + heldOutTexts.Count} texts)");
        // An even spread of training texts, not the first ones (a dictionary is alphabetical).
        int stride = Math.Max(1, trainTexts.Count / options.TrainEntries);
        progress?.Report($"tokenizing {trainTexts.Count + heldOutTexts.Count} texts");
        var train = trainTexts.AsParallel().AsOrdered().Select(t => tokenizer.Encode(t)).ToList();
        var heldOut = heldOutTexts.AsParallel().AsOrdered().Select(t => tokenizer.Encode(t)).ToList();
        var chosen = train.Where((_, i) => i % stride == 0).Take(options.TrainEntries).ToList();
        progress?.Report($"tracing {chosen.Count} training texts");
        var traced = ModelTracer.Trace(model, chosen, options.MaxLength);
        if (options.GeneratedEntries > 0)
        {
            int promptTokens = TraceSetOptions.GeneratedPromptTokens;
            var prompts = train.Where((e, i) => i % stride == stride / 2 && e.Length >= promptTokens)
                .Take(options.GeneratedEntries).Select(e => e[..promptTokens]).ToList();
            progress?.Report($"generating and tracing {prompts.Count} greedy continuations");
            traced.AddRange(ModelTracer.Trace(model, GreedyContinuations(model, prompts, options.MaxLength), options.MaxLength, GeneratedIds));
        }
        progress?.Report($"tracing {heldOut.Count} held-out texts");
        var heldOutTraced = ModelTracer.Trace(model, heldOut, options.MaxLength, HeldOutIds);
        return new TraceSet(RoutingTraceHeader.Of(model), traced, heldOutTraced);
    }

    /// <summary>Each prompt followed by the model's greedy continuation up to <paramref name="length"/> tokens (no stop token).</summary>
    static List<int[]> GreedyContinuations(IMoeModel model, IReadOnlyList<int[]> prompts, int length)
    {
        var result = new List<int[]>(prompts.Count);
        foreach (var chunk in prompts.Chunk(ModelTracer.BatchSize))
        {
            int newTokens = length - chunk[0].Length;
            if (newTokens < 1) { result.AddRange(chunk); continue; }
            var generated = Generation.Generate(model, chunk, new GenerationOptions { MaxNewTokens = newTokens, StopTokens = [] });
            result.AddRange(chunk.Zip(generated.OutputIds, (p, g) => p.Concat(g).ToArray()));
        }
        return result;
    }
}
