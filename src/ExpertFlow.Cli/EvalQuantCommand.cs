using System.CommandLine;
using System.Text.Json;
using ExpertFlow.Evaluation;
using ExpertFlow.Model;
using Spectre.Console;
using Toolkit.Cli;
using Toolkit.Reporting;
using Toolkit.Runtime;

namespace ExpertFlow.Cli;

/// <summary><c>expertflow eval-quant</c>: quantized experts against unquantized ones on held-out text (perplexity, logit error, agreement).</summary>
internal static class EvalQuantCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model folder with its tokenizer (e.g. models/demo-moe); held-out texts from the corpus split in its training.json, else GCIDE's default split.", Required = true };
        var formats = new Option<string>("--expert-dtype") { Description = "Formats compared with the unquantized experts, comma-separated: int8, int4 (with --expert-group-size) or int4-g32/int4-g64/int4-g128.", DefaultValueFactory = _ => "int8,int4-g32,int4-g64,int4-g128" };
        var groupSize = new Option<int>("--expert-group-size") { Description = "Group size of a plain int4 in the list.", DefaultValueFactory = _ => 64 };
        var texts = new Option<int>("--texts") { Description = "Held-out texts scored.", DefaultValueFactory = _ => 200 };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Tokens per text at most.", DefaultValueFactory = _ => 128 };
        var prompts = new Option<int>("--greedy-prompts") { Description = "Held-out prompts (16 tokens) continued greedily by every format.", DefaultValueFactory = _ => 32 };
        var newTokens = new Option<int>("--greedy-tokens") { Description = "Tokens generated per greedy prompt.", DefaultValueFactory = _ => 32 };
        var dtype = new Option<string>("--dtype") { Description = "Compute dtype of every model, the unquantized reference included: fp32, fp16 or bf16.", DefaultValueFactory = _ => "bf16" };
        var output = new Option<string>("--out") { Description = "Report folder (report.md, results.json).", DefaultValueFactory = _ => Path.Combine("runs", "eval-quant") };
        var device = CommonOptions.Device();
        var verbose = CommonOptions.Verbose();
        var command = new Command("eval-quant", "Quality of quantized experts: held-out perplexity, logit error, top-1 and greedy agreement against the unquantized experts, per format.")
        {
            model, formats, groupSize, texts, maxTokens, prompts, newTokens, dtype, output, device, verbose,
        };
        command.SetAction(r =>
        {
            string folder = r.GetValue(model)!;
            if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"--model '{folder}' is not a folder.");
            foreach (var (o, v) in new[] { ("--texts", r.GetValue(texts)), ("--max-tokens", r.GetValue(maxTokens) - 1), ("--greedy-prompts", r.GetValue(prompts)), ("--greedy-tokens", r.GetValue(newTokens)) })
                if (v < 1) throw new ArgumentException($"{o} must be at least {(o == "--max-tokens" ? 2 : 1)}.");
            IReadOnlyList<ExpertFormat> list;
            try { list = r.GetValue(formats)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(t => ExpertFormat.Parse(t, r.GetValue(groupSize))).ToArray(); }
            catch (ArgumentException e) { throw new ArgumentException($"--expert-dtype/--expert-group-size: {e.Message}"); }
            using var logging = CliApp.CreateLogging(r.GetValue(verbose));
            var options = new QuantizationQualityOptions(folder, list, ComputeDevice.Resolve(r.GetValue(device)), MoeModels.ParseDType(r.GetValue(dtype)!),
                r.GetValue(texts), r.GetValue(maxTokens), r.GetValue(prompts), 16, r.GetValue(newTokens));
            var rows = QuantizationQuality.Run(options, new Progress<string>(p => AnsiConsole.MarkupLineInterpolated($"[grey]{p}[/]")));
            string table = QuantizationQuality.Table(rows);
            Console.Error.WriteLine(table);
            string outDir = r.GetValue(output)!;
            Directory.CreateDirectory(outDir);
            string commandLine = "expertflow " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1));
            Files.WriteAllTextAtomically(Path.Combine(outDir, "report.md"), $"# Quantized experts: quality\n\nCommand:\n\n```\n{commandLine}\n```\n\n{table}\n");
            Files.WriteAllTextAtomically(Path.Combine(outDir, "results.json"), JsonSerializer.Serialize(rows, new JsonSerializerOptions { WriteIndented = true }));
            AnsiConsole.MarkupLineInterpolated($"report: {Path.Combine(outDir, "report.md")}");
            return 0;
        });
        return command;
    }
}
