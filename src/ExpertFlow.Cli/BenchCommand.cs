using System.CommandLine;
using System.Globalization;
using ExpertFlow.Offloading;
using ExpertFlow.Evaluation;
using Microsoft.Extensions.Logging;
using Spectre.Console;
using Toolkit.Cli;
using Toolkit.Runtime;
using Toolkit.Runtime.Cuda;

namespace ExpertFlow.Cli;

/// <summary><c>expertflow bench</c>: an offloading policy sweep (budgets x batch sizes x policies) with a markdown report and plots.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "Hugging Face model folder (config.json + safetensors)." };
        var synthetic = new Option<string?>("--synthetic") { Description = "Instead of --model: write a random bf16 model of this shape (qwen1.5-moe-a2.7b or tiny) into --work and use it." };
        var work = new Option<string>("--work") { Description = "Folder for the synthetic model.", DefaultValueFactory = _ => Path.Combine("runs", "bench-model") };
        var policies = new Option<string>("--policies") { Description = "Comma-separated policies (any --policy name of generate, e.g. on-demand+lookahead or lru+lookahead+cpu; repeat a name to measure it again in the same process).", DefaultValueFactory = _ => "on-demand,lru,next-layer" };
        var memory = new Option<string>("--memory") { Description = "Comma-separated budgets (e.g. 6.5GiB,4GiB): everything the model holds on the device.", DefaultValueFactory = _ => "6.5GiB,4GiB" };
        var batch = new Option<string>("--batch") { Description = "Comma-separated batch sizes.", DefaultValueFactory = _ => "1,16" };
        var prompt = new Option<int>("--prompt-tokens") { Description = "Random prompt length.", DefaultValueFactory = _ => 32 };
        var newTokens = new Option<int>("--new-tokens") { Description = "Tokens generated per sequence.", DefaultValueFactory = _ => 32 };
        var resident = new Option<bool>("--resident") { Description = "Also run the runtime's all-resident provider (no budget) as the reference speed." };
        var bandwidth = new Option<bool>("--bandwidth") { Description = "Measure the pinned host-to-device peak (1 GiB copies and one-expert copies) for the report (CUDA)." };
        var output = new Option<string>("--out") { Description = "Report folder (report.md, results.json, plots).", DefaultValueFactory = _ => Path.Combine("runs", "bench") };
        var cold = new Option<bool>("--cold") { Description = "No warm-up run and no repeat of the reference: the device memory a single run in a fresh process holds (its speed includes first-run costs)." };
        var replot = new Option<string?>("--replot") { Description = "Only redraw the plots of an earlier run from its results.json into --out." };
        var noGraphs = new Option<bool>("--no-cuda-graphs") { Description = "Decode eagerly on CUDA (by default, offloaded decode steps run CUDA graphs between expert layers)." };
        var noFused = new Option<bool>("--no-fused-kernels") { Description = "On CUDA in bf16/fp16, run transformers' op sequence instead of libtorch's fused rms_norm and grouped expert GEMM." };
        var device = CommonOptions.Device();
        var verbose = CommonOptions.Verbose();
        var command = new Command("bench", "Offloading policy sweep: tokens/s, hit ratio, transfers, stall time and memory per policy, budget and batch size; writes a markdown report with plots.");
        var formats = new ExpertFormatSettings(list: true);
        formats.AddTo(command);
        foreach (var o in new Option[] { replot, cold, model, synthetic, work, policies, memory, batch, prompt, newTokens, resident, bandwidth, output, noGraphs, noFused, device, verbose }) command.Options.Add(o);
        command.SetAction(parse =>
        {
            if (parse.GetValue(replot) is string resultsJson)
            {
                if (!File.Exists(resultsJson)) throw new FileNotFoundException($"--replot {resultsJson}: no such file.");
                foreach (var png in OffloadBenchmarkPlots.FromResults(resultsJson, parse.GetValue(output)!)) AnsiConsole.WriteLine(png);
                return 0;
            }
            using var logging = CliApp.CreateLogging(parse.GetValue(verbose));
            var log = logging.CreateLogger("bench");
            ExpertFlow.Model.MoeModels.FusedCudaKernels = !parse.GetValue(noFused);
            var dev = ComputeDevice.Resolve(parse.GetValue(device));
            string? folder = parse.GetValue(model);
            IExpertSource? source = null;
            if (parse.GetValue(synthetic) is string name)
            {
                var shape = Qwen2MoeShape.Named(name);
                AnsiConsole.MarkupLine($"[grey]writing a random {name} checkpoint into {parse.GetValue(work)}...[/]");
                folder = SyntheticMoe.Write(parse.GetValue(work)!, shape);
                source = SyntheticMoe.ExpertSource(shape); // the same bytes as the checkpoint's experts, generated in parallel
            }
            if (folder == null) throw new ArgumentException("give --model DIR or --synthetic NAME.");
            if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"--model {folder}: no such folder.");

            var budgets = OptionValues.Sizes(parse.GetValue(memory)!, "--memory").Order().ToArray();
            var batches = OptionValues.Ints(parse.GetValue(batch)!, "--batch", 1);
            var names = OptionValues.List(parse.GetValue(policies)!, "--policies", OffloadSettings.Policy);
            var expertFormats = formats.BindList(parse);
            var cases = new List<BenchCase>();
            foreach (int b in batches)
            {
                // formats innermost: repeated policy names give alternating runs of every format
                foreach (long m in budgets) foreach (var p in names) foreach (var f in expertFormats) cases.Add(new BenchCase(p, m, b, Format: f));
                // The first run of each batch size is the ids reference; running it twice shows whether the runtime itself is deterministic.
                var reference = cases.First(c => c.Batch == b);
                if (!parse.GetValue(cold)) cases.Insert(cases.IndexOf(reference) + 1, reference with { Note = "repeat of the reference run (determinism check)" });
            }
            if (parse.GetValue(resident)) foreach (int b in batches) foreach (var f in expertFormats) cases.Add(new BenchCase(null, null, b, Format: f));

            var notes = new List<string>();
            if (parse.GetValue(bandwidth) && dev.type == TorchSharp.DeviceType.CUDA)
            {
                using var context = CudaDriver.Open().RetainPrimaryContext(dev.index < 0 ? 0 : dev.index);
                var shape = SyntheticMoe.ExpertLayoutOf(Qwen2MoeShape.A27B);
                foreach (long size in new[] { 1L << 30, shape.BytesPerExpert })
                {
                    var m = CopyBandwidth.MeasureHostToDevice(context, size, 5, pinned: true);
                    notes.Add($"pinned host-to-device peak, {MemorySize.Format(size)} copies: median {m.MedianGBps:0.0} GB/s, best {m.BestGBps:0.0} GB/s");
                }
            }

            var bench = new OffloadBenchmark(folder, dev, log)
            {
                PromptTokens = parse.GetValue(prompt), NewTokens = parse.GetValue(newTokens), ExpertSource = source, WarmUp = !parse.GetValue(cold), CudaGraphs = !parse.GetValue(noGraphs),
            };
            string machine = dev.type == TorchSharp.DeviceType.CUDA && CudaDriver.TryOpen(out var driver, out _) ? driver.DeviceName(dev.index < 0 ? 0 : dev.index) : $"CPU ({Environment.ProcessorCount} threads)";
            string commandLine = "expertflow " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1));
            var results = bench.Run(cases, new Progress<string>(label => AnsiConsole.MarkupLineInterpolated($"[grey]running {label}...[/]")),
                partial => OffloadBenchmark.WriteReport(parse.GetValue(output)!, partial, "Offloading benchmark (partial)", commandLine, machine, plots: false));
            var table = new Table().AddColumns("policy", "experts", "budget", "batch", "decode tok/s", "hit ratio", "transfers", "stall s", "demand GB/s", "planned", "measured peak", "ids ok");
            foreach (var r in results)
                table.AddRow(r.Case.PolicyName, r.Case.Experts.Name, r.Case.MemoryBytes is long mb ? MemorySize.Format(mb) : "-", r.Case.Batch.ToString(CultureInfo.InvariantCulture),
                    r.Error == null ? r.DecodeTokensPerSecond.ToString("0.00", CultureInfo.InvariantCulture) : "[red]error[/]",
                    r.Stats?.HitRatio.ToString("0.000", CultureInfo.InvariantCulture) ?? "-", r.Stats == null ? "-" : (r.Stats.DemandTransfers + r.Stats.PrefetchTransfers).ToString(CultureInfo.InvariantCulture),
                    r.Stats?.StallSeconds.ToString("0.000", CultureInfo.InvariantCulture) ?? "-",
                    r.Stats is { DemandCopySeconds: > 0 } s ? s.DemandBandwidthGBps.ToString("0.0", CultureInfo.InvariantCulture) : "-",
                    MemorySize.Format(r.PlannedDeviceBytes), r.MeasuredPeakDeviceBytes > 0 ? MemorySize.Format(r.MeasuredPeakDeviceBytes) : "-",
                    r.Error == null ? (r.SameIdsAsReference ? "yes" : "[red]NO[/]") : Markup.Escape(r.Error.Length > 60 ? r.Error[..60] + "..." : r.Error));
            AnsiConsole.Write(table);
            foreach (var n in notes) AnsiConsole.WriteLine(n);
            OffloadBenchmark.WriteReport(parse.GetValue(output)!, results, "Offloading benchmark", commandLine, machine);
            if (notes.Count > 0) File.AppendAllLines(Path.Combine(parse.GetValue(output)!, "report.md"), notes.Prepend("").Select(n => n.Length == 0 ? n : "- " + n));
            AnsiConsole.MarkupLineInterpolated($"report: {Path.Combine(parse.GetValue(output)!, "report.md")}");
            return results.Any(r => r.Error == null && !r.SameIdsAsReference) ? 1 : 0;
        });
        return command;
    }

}
