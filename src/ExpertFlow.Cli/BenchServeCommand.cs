using System.CommandLine;
using ExpertFlow.Engine;
using ExpertFlow.Evaluation;
using ExpertFlow.Model;
using ExpertFlow.Serving;
using Spectre.Console;
using Toolkit.Cli;
using Toolkit.Reporting;
using Toolkit.Runtime;

namespace ExpertFlow.Cli;

/// <summary><c>expertflow bench-serve</c>: concurrent streaming clients against the server on loopback (<see cref="ServeBenchmark"/>).</summary>
internal static class BenchServeCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "Hugging Face model folder." };
        var synthetic = new Option<string?>("--synthetic") { Description = "Instead of --model: write a random bf16 model of this shape (qwen1.5-moe-a2.7b or tiny) into --work and serve it." };
        var work = new Option<string>("--work") { Description = "Folder for the synthetic model.", DefaultValueFactory = _ => Path.Combine("runs", "bench-model") };
        var clients = new Option<string>("--clients") { Description = "Comma-separated concurrent client counts, one round each.", DefaultValueFactory = _ => "1,8,32,64" };
        var promptTokens = new Option<int>("--prompt-tokens") { Description = "Random prompt length (token ids).", DefaultValueFactory = _ => 32 };
        var newTokens = new Option<int>("--new-tokens") { Description = "Tokens generated per request (ignore_eos).", DefaultValueFactory = _ => 64 };
        var output = new Option<string>("--out") { Description = "Report folder (prompts.json for a peer, results.json, report.md).", DefaultValueFactory = _ => Path.Combine("runs", "serve") };
        var label = new Option<string?>("--label") { Description = "The configuration's name in the report (default: resident or the memory budget)." };
        var device = CommonOptions.Device();
        var verbose = CommonOptions.Verbose();
        var command = new Command("bench-serve", "Throughput, time to first token and inter-token latency of the OpenAI-compatible server under concurrent streaming clients.")
        {
            model, synthetic, work, clients, promptTokens, newTokens, output, label, device, verbose,
        };
        var offload = new OffloadSettings();
        offload.AddTo(command);
        command.SetAction(async (r, cancel) =>
        {
            string? folder = r.GetValue(model);
            if (r.GetValue(synthetic) is string name) folder = SyntheticMoe.Write(r.GetValue(work)!, Qwen2MoeShape.Named(name));
            if (folder == null) throw new ArgumentException("give --model DIR or --synthetic NAME.");
            if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"--model '{folder}' is not a folder.");
            var engine = new EngineOptions { ModelFolder = folder, Device = ComputeDevice.Resolve(r.GetValue(device)!), Offload = offload.Bind(r), PredictorFolder = offload.PredictorFolder(r) };
            var options = new ServeBenchmarkOptions
            {
                Clients = OptionValues.Ints(r.GetValue(clients)!, "--clients", 1), PromptTokens = r.GetValue(promptTokens), NewTokens = r.GetValue(newTokens),
                OutputFolder = r.GetValue(output)!, Label = r.GetValue(label) ?? engine.Offload?.Memory.ToString() ?? "resident",
            };
            if (options.PromptTokens < 1 || options.NewTokens < 1) throw new ArgumentException("--prompt-tokens and --new-tokens must be at least 1.");
            var config = MoeConfig.Load(folder);
            int context = Math.Min(config.MaxPositionEmbeddings, options.PromptTokens + options.NewTokens);
            using var logging = CliApp.CreateLogging(r.GetValue(verbose));
            var rounds = await ServeBenchmark.RunAsync(engine, new ServerOptions { MaxSequences = options.Clients.Max(), Context = context, MaxQueue = 4096 }, options, logging,
                new SynchronousProgress<string>(m => CliApp.Error.MarkupLineInterpolated($"[grey]{m}[/]")), cancel);
            string table = ServeBenchmark.Table(rounds);
            Console.WriteLine(table);
            Files.WriteAllTextAtomically(Path.Combine(options.OutputFolder, "report.md"),
                $"# Server under concurrent clients ({engine.Device})\n\nCommand: `expertflow {string.Join(' ', Environment.GetCommandLineArgs().Skip(1))}`\n\n{table}\n");
            return 0;
        });
        return command;
    }
}
