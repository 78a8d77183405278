using System.CommandLine;
using System.Globalization;
using ExpertFlow.Demo;
using ExpertFlow.Prediction;
using Spectre.Console;
using Toolkit.Cli;
using Toolkit.Reporting;
using Toolkit.Runtime;
using TorchSharp;

namespace ExpertFlow.Cli;

/// <summary><c>expertflow eval-cache</c>: policies x cache sizes x batch sizes on the demo model through the offloading engine.</summary>
internal static class EvalCacheCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Demo model folder.", DefaultValueFactory = _ => "models/demo-moe" };
        var predictorDir = new Option<string>("--predictor") { Description = "Predictor folder (default MODEL/predictor)." };
        var policies = new Option<string>("--policies") { Description = "Comma-separated policies: on-demand, lru, next-layer, expertflow (PLEC with the token scheduler), expertflow-no-ts (PLEC, batches in arrival order), expertflow-oracle (PLEC fed by the true routing of the all-resident run: the bound a perfect predictor would reach), each optionally with +lookahead[:N].", DefaultValueFactory = _ => "on-demand,lru,next-layer,expertflow-no-ts,expertflow" };
        var fractions = new Option<string>("--cache") { Description = "Comma-separated cache sizes as shares of all experts.", DefaultValueFactory = _ => "0.1,0.25,0.5" };
        var batches = new Option<string>("--batch") { Description = "Comma-separated batch sizes.", DefaultValueFactory = _ => "1,16" };
        var newTokens = new Option<int>("--new-tokens") { Description = "Tokens generated per prompt.", DefaultValueFactory = _ => 24 };
        var runs = new Option<int>("--runs") { Description = "Dual-batch generations per case, each over 2 x batch fresh prompts (more runs: less timing noise).", DefaultValueFactory = _ => 2 };
        var output = new Option<string>("--out") { Description = "Report folder (report.md, PNG plots).", DefaultValueFactory = _ => "docs/expertflow-cache" };
        var lookahead = new Option<int>("--lookahead") { Description = "PLEC: layers ahead whose predicted experts are prefetched.", DefaultValueFactory = _ => 2 };
        var floor = new Option<float>("--prefetch-floor") { Description = "PLEC: experts the predictor scores below this are never prefetched (higher: fewer copies, more misses).", DefaultValueFactory = _ => ExpertFlow.Offloading.Policies.PredictivePolicy.DefaultPrefetchFloor };
        var overlap = new Option<bool>("--overlap") { Description = "expertflow: predict each batch's next paths on a worker thread while the other batch computes. Off by default: on a 2-core CPU it was slower at batch 16 (docs/expertflow-prediction.md).", DefaultValueFactory = _ => false };
        var crossStep = new Option<bool>("--cross-step") { Description = "PLEC: while one batch computes, prefetch the first layers' experts of the waiting batch's next step (its tokens are known).", DefaultValueFactory = _ => true };
        var plots = new Option<bool>("--plots") { Description = "Write PNG plots (needs SkiaSharp's native library).", DefaultValueFactory = _ => true };
        var replot = new Option<string?>("--replot") { Description = "Only redraw the plots of an earlier report folder from its results.json." };
        var device = CommonOptions.Device();
        var verbose = CommonOptions.Verbose();
        var command = new Command("eval-cache", "Hit ratio, transfers, stall time and tokens/s of offloading policies (incl. expertflow = PLEC + predictor) on the demo model with held-out GCIDE prompts.")
        {
            model, predictorDir, policies, fractions, batches, newTokens, runs, output, lookahead, floor, overlap, crossStep, plots, replot, device, verbose,
        };
        command.SetAction(parse =>
        {
            if (parse.GetValue(replot) is string again)
            {
                var saved = System.Text.Json.JsonSerializer.Deserialize<List<CacheResult>>(File.ReadAllText(Path.Combine(again, "results.json")))
                    ?? throw new InvalidDataException($"{again}/results.json holds no results");
                Plot(again, saved, saved.FirstOrDefault()?.Device ?? "");
                return 0;
            }
            LibTorch.EnsureLoaded();
            using var logging = CliApp.CreateLogging(parse.GetValue(verbose));
            var log = logging.CreateLogger("eval-cache");
            var dev = ComputeDevice.Resolve(parse.GetValue(device)!);
            string modelDir = parse.GetValue(model)!;
            string predDir = parse.GetValue(predictorDir) ?? Path.Combine(modelDir, "predictor");
            var predictor = File.Exists(Path.Combine(predDir, "predictor_config.json")) ? PredictorTrainer.Load(predDir) : null;
            predictor?.to(dev);
            var (_, heldOutRoutes) = Tracing.RoutingTraceFile.Read(Path.Combine(predDir, PredictorWorkflow.HeldOutTraceFile));
            var prompts = Tracing.RoutingTraceFile.ToSequences(heldOutRoutes).Where(s => s.Length >= 24).Select(s => s.TokenIds).ToList();
            var cases = new List<CacheCase>();
            var batchList = Split(parse.GetValue(batches)!).Select(int.Parse).ToArray();
            var fractionList = Split(parse.GetValue(fractions)!).Select(f => double.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            var policyList = Split(parse.GetValue(policies)!).ToArray();
            foreach (int b in batchList) foreach (double f in fractionList) foreach (var p in policyList) cases.Add(new CacheCase(p, f, b));
            foreach (int b in batchList) cases.Add(new CacheCase("all-resident", 1, b));
            var eval = new CacheEvaluation(modelDir, predictor, dev, log) { NewTokens = parse.GetValue(newTokens), Runs = parse.GetValue(runs), Lookahead = parse.GetValue(lookahead), PrefetchFloor = parse.GetValue(floor), OverlapPrediction = parse.GetValue(overlap), CrossStep = parse.GetValue(crossStep) };
            string outDir = parse.GetValue(output)!;
            Directory.CreateDirectory(outDir);
            // Partial results after every case, so a run cut short still leaves its measurements.
            var results = eval.Run(cases, prompts, new SynchronousProgress<string>(m => AnsiConsole.MarkupLine($"[grey]{Markup.Escape(m)}[/]")),
                partial => Files.WriteAllTextAtomically(Path.Combine(outDir, "results.json"), System.Text.Json.JsonSerializer.Serialize(partial.Select(r => r with { Device = dev.ToString() }))));
            var table = new MarkdownTable("policy", "cache", "batch", "slots", "hit ratio", "decode hit ratio", "transfers (demand+prefetch)", "prefetch wasted", "stall s", "decode tok/s", "x lru", "predictor+scheduler s", "experts/layer per batch", "ids = all-resident");
            var console = new Table().AddColumns("policy", "cache", "batch", "slots", "hit", "decode hit", "transfers", "stall s", "tok/s", "experts/batch", "same ids");
            // tokens/s relative to lru's at the same cache size and batch (empty where lru was not run)
            string VersusLru(CacheResult r) => results.FirstOrDefault(l => l.Case.Policy == "lru" && l.Case.Batch == r.Case.Batch && l.Case.CacheFraction == r.Case.CacheFraction && l.Error == null) is { DecodeTokensPerSecond: > 0 } lru
                && r.Case.Policy != "all-resident" ? (r.DecodeTokensPerSecond / lru.DecodeTokensPerSecond).ToString("F2", CultureInfo.InvariantCulture) : "";
            foreach (var r in results)
            {
                table.Add(r.Case.Policy, r.Case.CacheFraction.ToString("P0", CultureInfo.InvariantCulture), r.Case.Batch, r.Slots, r.HitRatio.ToString("F3"), r.DecodeHitRatio.ToString("F3"),
                    $"{r.Transfers} ({r.DemandTransfers}+{r.PrefetchTransfers})", r.PrefetchWasted, r.StallSeconds.ToString("F3"), r.DecodeTokensPerSecond.ToString("F1"), VersusLru(r),
                    r.PredictorSeconds.ToString("F2"), r.ExpertsPerBatchLayer.ToString("F2"), r.Error ?? (r.SameIdsAsResident ? "yes" : "NO"));
                console.AddRow(r.Case.Policy, r.Case.CacheFraction.ToString("P0", CultureInfo.InvariantCulture), r.Case.Batch.ToString(), r.Slots.ToString(), r.HitRatio.ToString("F3"), r.DecodeHitRatio.ToString("F3"),
                    r.Transfers.ToString(), r.StallSeconds.ToString("F3"), r.DecodeTokensPerSecond.ToString("F1"), r.ExpertsPerBatchLayer.ToString("F2"), Markup.Escape(r.Error ?? (r.SameIdsAsResident ? "yes" : "NO")));
            }
            AnsiConsole.Write(console);
            string cmd = "expertflow " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1));
            Files.WriteAllTextAtomically(Path.Combine(outDir, "report.md"), $"# Cache evaluation on the demo model ({dev})\n\nCommand: `{cmd}`\n\n{table}\n");
            Files.WriteAllTextAtomically(Path.Combine(outDir, "results.json"), System.Text.Json.JsonSerializer.Serialize(results.Select(r => r with { Device = dev.ToString() })));
            if (parse.GetValue(plots)) Plot(outDir, results, dev.ToString());
            AnsiConsole.MarkupLine($"report: {Markup.Escape(Path.Combine(outDir, "report.md"))}");
            return results.Any(r => r.Error == null && !r.SameIdsAsResident) ? 1 : 0;
        });
        return command;
    }

    static void Plot(string outDir, IReadOnlyList<CacheResult> results, string device)
    {
        var batchList = results.Select(r => r.Case.Batch).Distinct().Order().ToArray();
        var fractionList = results.Where(r => r.Case.Policy != "all-resident").Select(r => r.Case.CacheFraction).Distinct().Order().ToArray();
        var policyList = results.Where(r => r.Case.Policy != "all-resident").Select(r => r.Case.Policy).Distinct().ToArray();
        var labels = fractionList.Select(f => f.ToString("P0", CultureInfo.InvariantCulture)).ToList();
        IReadOnlyList<double> Values(string p, int b, Func<CacheResult, double> pick) =>
            fractionList.Select(f => results.Where(r => r.Case.Policy == p && r.Case.Batch == b && r.Case.CacheFraction == f).Select(pick).DefaultIfEmpty(0).First()).ToArray();
        foreach (int b in batchList)
        {
            Charts.Bars(Path.Combine(outDir, $"hit-ratio-batch{b}.png"), $"Hit ratio by cache size, batch {b} ({device})", "hit ratio", labels,
                policyList.Select(p => (p, Values(p, b, r => r.HitRatio))).ToList());
            Charts.Bars(Path.Combine(outDir, $"tokens-per-second-batch{b}.png"), $"Decode tokens/s by cache size, batch {b} ({device})", "tokens/s", labels,
                policyList.Select(p => (p, Values(p, b, r => r.DecodeTokensPerSecond))).ToList());
        }
    }

    static IEnumerable<string> Split(string text) => text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
