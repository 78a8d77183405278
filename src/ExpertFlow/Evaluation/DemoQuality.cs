using System.Text.RegularExpressions;
using ExpertFlow.Demo;
using ExpertFlow.Engine;
using ExpertFlow.Model;
using ExpertFlow.Tracing;
using Toolkit.Data.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace ExpertFlow.Evaluation;

/// <summary>How <see cref="DemoQuality"/> samples and measures.</summary>
/// <param name="Samples">Sampled continuations, one per prompt "The {headword} is" of a held-out GCIDE entry.</param>
/// <param name="MaxNewTokens">Tokens per continuation.</param>
/// <param name="Temperature">Sampling temperature (the README's generate command uses 0.7).</param>
/// <param name="TopP">Nucleus sampling mass (the README uses 0.9).</param>
/// <param name="Seed">Sampling seed.</param>
/// <param name="HeldOutTexts">Held-out texts scored for perplexity.</param>
public sealed record DemoQualityOptions(int Samples = 100, int MaxNewTokens = 48, double Temperature = 0.7, double TopP = 0.9,
    long Seed = 0, int HeldOutTexts = 400);

/// <summary>What <see cref="DemoQuality.Evaluate"/> measured.</summary>
/// <param name="HeldOutLoss">Mean next-token cross-entropy (nats) over the held-out texts.</param>
/// <param name="HeldOutTokens">Tokens scored.</param>
/// <param name="Words">Words (letter runs) in the sampled continuations.</param>
/// <param name="HeadwordWords">Of those, words that are GCIDE headwords (case-insensitive).</param>
/// <param name="CorpusWords">Of those, words that occur anywhere in GCIDE's text.</param>
/// <param name="EndedEarly">Continuations that ended with an end-of-text token before the token limit.</param>
/// <param name="Continuations">The prompts and what the model wrote.</param>
/// <param name="CommonNonWords">The most frequent words that are not in GCIDE's text, with counts.</param>
public sealed record DemoQualityReport(double HeldOutLoss, long HeldOutTokens, int Words, int HeadwordWords, int CorpusWords,
    int EndedEarly, IReadOnlyList<(string Prompt, string Text)> Continuations, IReadOnlyList<(string Word, int Count)> CommonNonWords)
{
    public double HeldOutPerplexity => Math.Exp(HeldOutLoss);
    public double HeadwordShare => Words == 0 ? 0 : (double)HeadwordWords / Words;
    public double CorpusWordShare => Words == 0 ? 0 : (double)CorpusWords / Words;
}

/// <summary>
/// Whether a demo model writes English: held-out perplexity on the GCIDE texts its training left out, and the share of
/// words in sampled continuations that are dictionary headwords. Perplexity uses the training model
/// (<see cref="DemoMixtral"/>); the continuations go through the runtime a user runs (<see cref="InferenceEngine"/>).
/// </summary>
public static partial class DemoQuality
{
    [GeneratedRegex("[A-Za-z]+")]
    private static partial Regex Word();

    /// <param name="modelFolder">A folder written by <c>train-demo</c>.</param>
    /// <param name="split">Whose held-out texts to score and prompt from (usually the model's own split); GCIDE only.</param>
    /// <param name="options">Sampling and scoring settings.</param>
    /// <param name="device">Where both models run.</param>
    /// <param name="progress">Receives a line per phase.</param>
    public static DemoQualityReport Evaluate(string modelFolder, CorpusSplit split, DemoQualityOptions options, Device device, IProgress<string>? progress = null)
    {
        if (!IsGcide(split.Corpus)) throw new ArgumentException($"the headword measure needs GCIDE; the split names '{split.Corpus}'.");
        progress?.Report("reading GCIDE");
        var entries = GcideCorpus.ReadEntries().ToList();
        var headwords = new HashSet<string>(entries.Select(e => e.Headword.Trim().ToLowerInvariant()).Where(h => h.Length > 0 && h.All(char.IsLetter)));
        var corpusWords = new HashSet<string>();
        foreach (var entry in entries)
            foreach (Match m in Word().Matches(entry.Text)) corpusWords.Add(m.Value.ToLowerInvariant());
        var (_, heldOut) = split.Read();

        progress?.Report("scoring held-out texts");
        var (model, tokenizer) = DemoCheckpoint.Load(modelFolder);
        double loss;
        long tokens;
        using (model)
        {
            model.to(device);
            model.eval();
            var ids = heldOut.Take(options.HeldOutTexts).Select(tokenizer.Encode).Where(e => e.Length >= 2).ToList();
            (loss, tokens) = Score(model, ids, maxLength: 128);
        }

        progress?.Report("sampling continuations");
        var promptWords = heldOut.Select(FirstWord).Where(w => w != null).Distinct().ToList();
        int stride = Math.Max(1, promptWords.Count / options.Samples); // spread over the alphabet
        var prompts = promptWords.Where((_, i) => i % stride == 0).Take(options.Samples).Select(w => $"The {w} is").ToList();
        var runtimeTokenizer = ModelTokenizer.Load(modelFolder);
        var promptIds = prompts.Select(p => runtimeTokenizer.Encode(p)).ToArray();
        using var engine = InferenceEngine.Load(new EngineOptions { ModelFolder = modelFolder, Device = device, DType = ScalarType.Float32 },
            Workload.For(promptIds.Length, promptIds.Max(p => p.Length), options.MaxNewTokens), runtimeTokenizer);
        var stop = engine.StopTokenIds.ToHashSet();
        var result = engine.Generate(promptIds, new GenerationOptions
        {
            MaxNewTokens = options.MaxNewTokens, StopTokens = stop,
            Sampling = new SamplingOptions { Greedy = false, Temperature = options.Temperature, TopP = options.TopP, Seed = options.Seed },
        });

        var continuations = new List<(string, string)>();
        var nonWords = new Dictionary<string, int>();
        int words = 0, inHeadwords = 0, inCorpus = 0, endedEarly = 0;
        for (int i = 0; i < prompts.Count; i++)
        {
            var output = result.OutputIds[i];
            if (output.Length > 0 && stop.Contains(output[^1]) && output.Length < options.MaxNewTokens) endedEarly++;
            string text = runtimeTokenizer.Decode(output, skipSpecialTokens: true);
            continuations.Add((prompts[i], text));
            foreach (Match m in Word().Matches(text))
            {
                string w = m.Value.ToLowerInvariant();
                words++;
                if (headwords.Contains(w)) inHeadwords++;
                if (corpusWords.Contains(w)) inCorpus++;
                else nonWords[w] = nonWords.GetValueOrDefault(w) + 1;
            }
        }
        var common = nonWords.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).Take(20).Select(p => (p.Key, p.Value)).ToList();
        return new DemoQualityReport(loss, tokens, words, inHeadwords, inCorpus, endedEarly, continuations, common);
    }

    /// <summary>Mean next-token cross-entropy over texts (each cut to <paramref name="maxLength"/> + 1 tokens) and the tokens scored.</summary>
    public static (double Loss, long Tokens) Score(DemoMixtral model, IEnumerable<int[]> texts, int maxLength)
    {
        using var noGrad = no_grad();
        double total = 0;
        long count = 0;
        foreach (var text in texts)
        {
            using var scope = NewDisposeScope();
            var ids = text.Take(maxLength + 1).Select(i => (long)i).ToArray();
            var input = tensor(ids[..^1], [1, ids.Length - 1]).to(model.Device);
            var target = tensor(ids[1..], [ids.Length - 1]).to(model.Device);
            var logits = model.Forward(input, null, out _);
            total += nn.functional.cross_entropy(logits[0].to(ScalarType.Float32), target, reduction: nn.Reduction.Sum).item<float>();
            count += ids.Length - 1;
        }
        return (count == 0 ? double.NaN : total / count, count);
    }

    static string? FirstWord(string text)
    {
        var m = Word().Match(text);
        return m.Success && m.Index == 0 && m.Value.Length > 2 ? m.Value.ToLowerInvariant() : null;
    }

    static bool IsGcide(string corpus) =>
        corpus.Equals(TextCorpus.Gcide, StringComparison.OrdinalIgnoreCase) || corpus.EndsWith("gcide.dict.dz", StringComparison.Ordinal);
}
