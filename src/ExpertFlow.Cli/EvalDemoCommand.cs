using System.CommandLine;
using System.Text;
using System.Text.Json;
using ExpertFlow.Demo;
using ExpertFlow.Evaluation;
using ExpertFlow.Tracing;
using Spectre.Console;
using Toolkit.Cli;
using Toolkit.Reporting;
using Toolkit.Runtime;

namespace ExpertFlow.Cli;

/// <summary><c>expertflow eval-demo</c>: does a demo model write English (held-out perplexity, dictionary words in its samples)?</summary>
internal static class EvalDemoCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "A folder written by train-demo.", DefaultValueFactory = _ => "models/demo-moe" };
        var heldOutOf = new Option<string?>("--heldout-of") { Description = "Score and prompt from the held-out texts of this model folder's training split instead of the model's own (to compare two models on texts neither saw)." };
        var samples = new Option<int>("--samples") { Description = "Sampled continuations (prompts \"The <headword> is\" from held-out entries).", DefaultValueFactory = _ => 100 };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Tokens per continuation.", DefaultValueFactory = _ => 48 };
        var temperature = new Option<double>("--temperature") { Description = "Sampling temperature.", DefaultValueFactory = _ => 0.7 };
        var topP = new Option<double>("--top-p") { Description = "Nucleus sampling mass.", DefaultValueFactory = _ => 0.9 };
        var heldOutTexts = new Option<int>("--heldout-texts") { Description = "Held-out texts scored for perplexity.", DefaultValueFactory = _ => 400 };
        var output = new Option<string>("--output") { Description = "Folder for report.json and samples.md.", DefaultValueFactory = _ => Path.Combine("runs", "eval-demo") };
        var device = CommonOptions.Device();
        var seed = CommonOptions.Seed();
        var command = new Command("eval-demo", "Whether a demo model writes English: held-out perplexity on the GCIDE texts its training left out, and the share of words in sampled continuations that are GCIDE headwords.")
        {
            model, heldOutOf, samples, maxNew, temperature, topP, heldOutTexts, output, device, seed,
        };
        command.SetAction(parse =>
        {
            LibTorch.EnsureLoaded();
            string folder = parse.GetValue(model)!;
            if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"--model '{folder}' is not a folder.");
            var options = new DemoQualityOptions(parse.GetValue(samples), parse.GetValue(maxNew), parse.GetValue(temperature), parse.GetValue(topP),
                parse.GetValue(seed), parse.GetValue(heldOutTexts));
            if (options.Samples < 1 || options.MaxNewTokens < 1 || options.HeldOutTexts < 1) throw new ArgumentException("--samples, --max-new-tokens and --heldout-texts must be positive.");
            var split = CorpusSplit.For(parse.GetValue(heldOutOf) ?? folder);
            var log = new SynchronousProgress<string>(m => Console.Error.WriteLine(m));
            var report = DemoQuality.Evaluate(folder, split, options, ComputeDevice.Resolve(parse.GetValue(device)!), log);
            Write(parse.GetValue(output)!, folder, split, report);

            var table = new Table().AddColumns("measure", "value");
            table.AddRow("held-out perplexity", $"{report.HeldOutPerplexity:F2} ({report.HeldOutTokens} tokens)");
            table.AddRow("words that are GCIDE headwords", $"{report.HeadwordShare:P1} ({report.HeadwordWords} of {report.Words})");
            table.AddRow("words found in GCIDE's text", $"{report.CorpusWordShare:P1}");
            table.AddRow("continuations ended by end-of-text", $"{report.EndedEarly} of {report.Continuations.Count}");
            table.AddRow("commonest non-words", Markup.Escape(string.Join(", ", report.CommonNonWords.Take(8).Select(p => $"{p.Word} ({p.Count})"))));
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLineInterpolated($"Samples and report in {parse.GetValue(output)}");
            return 0;
        });
        return command;
    }

    static void Write(string folder, string model, CorpusSplit split, DemoQualityReport r)
    {
        Directory.CreateDirectory(folder);
        var json = new
        {
            model, split, held_out_loss = r.HeldOutLoss, held_out_perplexity = r.HeldOutPerplexity, held_out_tokens = r.HeldOutTokens,
            words = r.Words, headword_share = r.HeadwordShare, corpus_word_share = r.CorpusWordShare, ended_early = r.EndedEarly,
            common_non_words = r.CommonNonWords.Select(p => new { word = p.Word, count = p.Count }),
        };
        Files.WriteAllTextAtomically(Path.Combine(folder, "report.json"), JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true }));
        var md = new StringBuilder($"# Samples of {model}\n\n");
        foreach (var (prompt, text) in r.Continuations) md.Append("- **").Append(prompt).Append("**").Append(text.ReplaceLineEndings(" ")).Append('\n');
        Files.WriteAllTextAtomically(Path.Combine(folder, "samples.md"), md.ToString());
    }
}
