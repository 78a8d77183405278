using System.Diagnostics;
using ExpertFlow.Model;
using ExpertFlow.Tracing;
using Toolkit.Reporting;
using static TorchSharp.torch;

namespace ExpertFlow.Evaluation;

/// <summary>What <see cref="QuantizationQuality.Run"/> measures.</summary>
/// <param name="ModelFolder">A model folder with a tokenizer; its held-out texts come from the corpus split beside it (training.json) or GCIDE's default split.</param>
/// <param name="Formats">Expert formats compared with the unquantized experts.</param>
/// <param name="Device">Where every model computes.</param>
/// <param name="DType">The compute dtype of every model, the unquantized reference included.</param>
/// <param name="PromptTokens">Tokens per greedy prompt.</param>
/// <param name="Texts">Held-out texts scored (teacher-forced: perplexity, logit error, top-1 agreement).</param>
/// <param name="MaxTokens">Tokens per text at most.</param>
/// <param name="GreedyPrompts">Prompts (the first <paramref name="PromptTokens"/> tokens of held-out texts) continued greedily.</param>
/// <param name="GreedyTokens">Tokens generated per prompt.</param>
public sealed record QuantizationQualityOptions(string ModelFolder, IReadOnlyList<ExpertFormat> Formats, Device Device, ScalarType DType,
    int Texts = 200, int MaxTokens = 128, int GreedyPrompts = 32, int PromptTokens = 16, int GreedyTokens = 32);

/// <summary>One expert format against the unquantized experts (the first row is the unquantized model itself).</summary>
/// <param name="Format">The expert format's name.</param>
/// <param name="BytesPerExpert">Host and slot bytes of one expert.</param>
/// <param name="Perplexity">exp of the mean negative log-likelihood of the held-out tokens.</param>
/// <param name="LogitRmsError">Root mean square of the logit differences over every scored position and vocabulary entry.</param>
/// <param name="LogitMaxError">Largest absolute logit difference.</param>
/// <param name="RelativeLogitError">LogitRmsError over the root mean square of the unquantized logits.</param>
/// <param name="TopOneAgreement">Share of scored positions whose most likely token is the unquantized model's.</param>
/// <param name="GreedyAgreement">Share of greedily generated tokens equal to the unquantized model's at the same position.</param>
public sealed record QuantizationQualityRow(string Format, long BytesPerExpert, double Perplexity, double LogitRmsError, double LogitMaxError,
    double RelativeLogitError, double TopOneAgreement, double GreedyAgreement);

/// <summary>
/// The cost of quantized experts in quality: each format's model next to the unquantized one on held-out text —
/// perplexity, logit error, teacher-forced top-1 agreement and greedy agreement.
/// </summary>
public static class QuantizationQuality
{
    public static IReadOnlyList<QuantizationQualityRow> Run(QuantizationQualityOptions o, IProgress<string>? progress = null)
    {
        var tokenizer = ModelTokenizer.Load(o.ModelFolder);
        var split = CorpusSplit.For(o.ModelFolder);
        progress?.Report($"reading the held-out texts of {split.Corpus}");
        var texts = split.Read().HeldOut.Take(o.Texts).Select(t => tokenizer.Encode(t)).Where(ids => ids.Length >= 2)
            .Select(ids => ids.Length > o.MaxTokens ? ids[..o.MaxTokens] : ids).ToList();
        if (texts.Count == 0) throw new InvalidDataException($"the held-out texts of {split.Corpus} give no token sequences to score");
        var formats = o.Formats.Where(f => f.IsQuantized).Distinct().Prepend(ExpertFormat.Unquantized).ToList();
        var models = new List<IMoeModel>();
        try
        {
            foreach (var f in formats)
                models.Add(MoeModels.Load(o.ModelFolder, new ModelLoadOptions { Device = o.Device, DType = o.DType, ExpertFormat = f }));
            int n = formats.Count;
            var nll = new double[n];
            var sq = new double[n];
            var max = new double[n];
            var agree = new long[n];
            double refSq = 0;
            long positions = 0, entries = 0;
            var watch = Stopwatch.StartNew();
            foreach (var (ids, index) in texts.Select((t, i) => (t, i)))
            {
                if (watch.Elapsed.TotalSeconds > 5) { progress?.Report($"scored {index} of {texts.Count} texts"); watch.Restart(); }
                using var scope = NewDisposeScope();
                var input = ids[..^1];
                var targets = tensor(ids[1..].Select(x => (long)x).ToArray(), ScalarType.Int64, o.Device);
                Tensor? reference = null, refTop = null;
                for (int m = 0; m < n; m++)
                {
                    models[m].ResetCache(1, ids.Length);
                    var logits = models[m].Step([input], allPositions: true)[0].to(ScalarType.Float64); // [T, V]
                    nll[m] += -logits.log_softmax(-1).gather(1, targets.unsqueeze(1)).sum().item<double>();
                    var top = logits.argmax(-1);
                    if (m == 0)
                    {
                        reference = logits;
                        refTop = top;
                        refSq += logits.square().sum().item<double>();
                        continue;
                    }
                    var diff = logits - reference!;
                    sq[m] += diff.square().sum().item<double>();
                    max[m] = Math.Max(max[m], diff.abs().max().item<double>());
                    agree[m] += top.eq(refTop!).sum().item<long>();
                }
                positions += input.Length;
                entries += input.Length * reference!.shape[1];
            }
            agree[0] = positions;
            progress?.Report("greedy continuations");
            var prompts = texts.Where(t => t.Length >= o.PromptTokens).Take(o.GreedyPrompts).Select(t => t[..o.PromptTokens]).ToArray();
            var greedy = models.Select(m => Generation.Generate(m, prompts, new GenerationOptions { MaxNewTokens = o.GreedyTokens, StopTokens = [] }).OutputIds).ToList();
            var rows = new List<QuantizationQualityRow>();
            for (int m = 0; m < n; m++)
            {
                var pairs = greedy[0].Zip(greedy[m]).SelectMany(p => p.First.Zip(p.Second)).ToArray();
                double greedyAgree = pairs.Length == 0 ? 1 : pairs.Count(p => p.First == p.Second) / (double)pairs.Length;
                long bytes = formats[m].IsQuantized ? models[m].Experts.PackedLayout!.Bytes : models[m].Experts.ExpertBytes(models[m].Experts.MoeLayers[0]);
                double rms = Math.Sqrt(sq[m] / entries);
                rows.Add(new QuantizationQualityRow(formats[m].IsQuantized ? formats[m].Name : DTypeName(o.DType) + " (unquantized)", bytes,
                    Math.Exp(nll[m] / positions), rms, max[m], rms / Math.Sqrt(refSq / entries), agree[m] / (double)positions, greedyAgree));
            }
            return rows;
        }
        finally
        {
            foreach (var m in models) m.Dispose();
        }
    }

    static string DTypeName(ScalarType t) => t switch { ScalarType.BFloat16 => "bf16", ScalarType.Float16 => "fp16", _ => "fp32" };

    /// <summary>The rows as a markdown table.</summary>
    public static string Table(IReadOnlyList<QuantizationQualityRow> rows)
    {
        var table = new MarkdownTable("experts", "bytes per expert", "held-out perplexity", "logit RMS error", "logit max error", "relative logit error", "top-1 agreement", "greedy agreement");
        foreach (var r in rows)
            table.Add(r.Format, r.BytesPerExpert, r.Perplexity.ToString("0.000"), r.LogitRmsError.ToString("0.0000"), r.LogitMaxError.ToString("0.000"),
                r.RelativeLogitError.ToString("0.0000"), r.TopOneAgreement.ToString("P2"), r.GreedyAgreement.ToString("P2"));
        return table.ToString();
    }
}
