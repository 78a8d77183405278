using System.Text.Json;
using ExpertFlow.Demo;
using ExpertFlow.Tracing;
using Toolkit.Data.Text;
using Toolkit.Reporting;
using TorchSharp;

namespace ExpertFlow.Prediction;

/// <summary>How a demo model's corpus was cut (written beside the model as training.json so traces reuse the same held-out split).</summary>
public sealed record DemoCorpusRecipe(string Corpus, int Entries, int HeldOutEvery)
{
    public const string FileName = "training.json";

    public void Save(string modelDirectory) => Files.WriteAllTextAtomically(Path.Combine(modelDirectory, FileName), JsonSerializer.Serialize(this));

    public static DemoCorpusRecipe Load(string modelDirectory)
    {
        string path = Path.Combine(modelDirectory, FileName);
        return File.Exists(path)
            ? JsonSerializer.Deserialize<DemoCorpusRecipe>(File.ReadAllText(path)) ?? throw new InvalidDataException($"{path}: not a corpus recipe")
            : new DemoCorpusRecipe(GcideCorpus.DefaultPath, 40000, DemoCorpus.HeldOutEvery);
    }
}

/// <summary>The steps from a demo model to predictor traces: corpus (same split as training), traces of training and held-out entries.</summary>
public static class PredictorWorkflow
{
    public const string TrainTraceFile = "train.eftrace";
    public const string HeldOutTraceFile = "heldout.eftrace";

    /// <summary>Traces <paramref name="trainEntries"/> training entries and all held-out entries of the model's corpus into
    /// <paramref name="directory"/>, running the model on <paramref name="device"/> (CPU when null).</summary>
    public static (RoutingTraceHeader Header, List<TracedSequence> Train, List<TracedSequence> HeldOut) TraceDemoModel(
        string modelDirectory, string directory, int trainEntries, int maxLength, IProgress<string>? progress = null, int generatedEntries = 0,
        torch.Device? device = null)
    {
        var (model, tokenizer) = DemoCheckpoint.Load(modelDirectory);
        if (device != null) model.to(device);
        var recipe = DemoCorpusRecipe.Load(modelDirectory);
        progress?.Report("reading corpus");
        var corpus = DemoCorpus.Load(recipe.Corpus, recipe.Entries, tokenizer.VocabularySize, tokenizer);
        var header = new RoutingTraceHeader(model.Config.NumLayers, model.Config.NumExperts, model.Config.TopK);
        // An even spread of training entries, not the first ones (the dictionary is alphabetical).
        int stride = Math.Max(1, corpus.TrainEntries.Count / Math.Max(1, trainEntries));
        var chosen = corpus.TrainEntries.Where((_, i) => i % stride == 0).Take(trainEntries).ToList();
        progress?.Report($"tracing {chosen.Count} training entries");
        var train = DemoRoutingTracer.Trace(model, chosen, maxLength);
        if (generatedEntries > 0)
        {
            // Generation feeds the model its own greedy continuations, text unlike the dictionary's: trace some of those
            // too, from prompts of other training entries (held-out entries stay unseen).
            var prompts = corpus.TrainEntries.Where((e, i) => i % stride == stride / 2 && e.Length >= GeneratedPromptTokens)
                .Take(generatedEntries).Select(e => e[..GeneratedPromptTokens]).ToList();
            progress?.Report($"generating and tracing {prompts.Count} greedy continuations");
            var continued = GreedyContinuations(model, prompts, maxLength);
            train.AddRange(DemoRoutingTracer.Trace(model, continued, maxLength, firstSequenceId: 2_000_000));
        }
        progress?.Report($"tracing {corpus.HeldOutEntries.Count} held-out entries");
        var heldOut = DemoRoutingTracer.Trace(model, corpus.HeldOutEntries, maxLength, firstSequenceId: 1_000_000);
        RoutingTraceFile.Write(Path.Combine(directory, TrainTraceFile), header, RoutingTraceFile.ToRoutes(train));
        RoutingTraceFile.Write(Path.Combine(directory, HeldOutTraceFile), header, RoutingTraceFile.ToRoutes(heldOut));
        model.Dispose();
        return (header, train, heldOut);
    }

    /// <summary>Prompt length of the generated continuations (as `eval-cache`'s prompts).</summary>
    public const int GeneratedPromptTokens = 24;

    /// <summary>Each prompt followed by the model's greedy continuation up to <paramref name="length"/> tokens (full recomputation per token: the demo model is tiny).</summary>
    static List<int[]> GreedyContinuations(DemoMixtral model, IReadOnlyList<int[]> prompts, int length)
    {
        model.eval();
        using var noGrad = TorchSharp.torch.no_grad();
        var device = model.Device;
        var result = new List<int[]>(prompts.Count);
        foreach (var chunk in prompts.GroupBy(p => p.Length).SelectMany(g => g.Chunk(32)))
        {
            var rows = chunk.Select(p => p.ToList()).ToArray();
            while (rows[0].Count < length)
            {
                using var scope = TorchSharp.torch.NewDisposeScope();
                int n = rows[0].Count;
                var ids = TorchSharp.torch.tensor(rows.SelectMany(r => r.Select(t => (long)t)).ToArray(), [rows.Length, n]).to(device);
                var next = model.forward(ids).select(1, n - 1).argmax(-1).cpu().data<long>().ToArray();
                for (int b = 0; b < rows.Length; b++) rows[b].Add((int)next[b]);
            }
            result.AddRange(rows.Select(r => r.ToArray()));
        }
        return result;
    }

    /// <summary>Evaluates the predictor and the heuristics on held-out traces, prefill and decode.</summary>
    public static List<PathMetrics> Evaluate(RoutingPathPredictor? predictor, RoutingTraceHeader header, IReadOnlyList<TracedSequence> train,
        IReadOnlyList<TracedSequence> heldOut, int maxLength, int batchSize = 16)
    {
        var frequency = new FrequencyScorer(train, header);
        var scorers = new List<(IPathScorer Scorer, bool Probabilities)>
        {
            (frequency, false),
            (new PreviousTokenScorer(frequency, header), false),
            (new TokenTableScorer(train, header, frequency), false),
        };
        if (predictor != null) scorers.Add((new PredictorScorer(predictor, header), true));
        var (prefill, decode) = PathEvaluation.Examples(heldOut, maxLength);
        var results = new List<PathMetrics>();
        foreach (var (scorer, probabilities) in scorers)
        {
            results.Add(PathEvaluation.Evaluate(scorer, prefill, header, "prefill", probabilities, batchSize));
            results.Add(PathEvaluation.Evaluate(scorer, decode, header, "decode", probabilities, batchSize));
        }
        return results;
    }

    public static MarkdownTable Table(IEnumerable<PathMetrics> metrics)
    {
        var table = new MarkdownTable("method", "tokens", "recall@k", "recall (p>=0.5)", "precision (p>=0.5)", "batch-16 coverage", "predicted/needed experts per layer (batch 16)");
        foreach (var m in metrics)
            table.Add($"{m.Method}, {m.Mode}", m.Tokens, Pct(m.Recall), Pct(m.ThresholdRecall), Pct(m.ThresholdPrecision), Pct(m.BatchCoverage),
                $"{m.PredictedPerBatch:F2} / {m.TruePerBatch:F2}");
        return table;
    }

    static string Pct(double v) => (100 * v).ToString("F1", System.Globalization.CultureInfo.InvariantCulture) + "%";
}
