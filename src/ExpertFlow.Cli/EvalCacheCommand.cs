using System.CommandLine;
using System.Globalization;
using ExpertFlow.Evaluation;
using ExpertFlow.Offloading.Policies;
using Spectre.Console;
using Toolkit.Cli;
using Toolkit.Runtime;

namespace ExpertFlow.Cli;

/// <summary><c>expertflow eval-cache</c>: policies x cache sizes x batch sizes through the offloading engine (<see cref="CacheEvaluation"/>).</summary>
internal static class EvalCacheCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model folder (any supported decoder-only family with a trained predictor, see train-predictor).", DefaultValueFactory = _ => "models/demo-moe" };
        var predictorDir = new Option<string?>("--predictor") { Description = "Predictor folder: its predictor feeds expertflow, its held-out trace gives the prompts (default MODEL/predictor)." };
        var policies = new Option<string>("--policies") { Description = $"Comma-separated policies: {string.Join(", ", EvaluatedPolicy.Names)}; expertflow is PLEC with the token scheduler, expertflow-no-ts PLEC with the batches in arrival order, expertflow-oracle PLEC fed by the true routing of the all-resident run (the bound a perfect predictor would reach); each optionally with +lookahead[:N].", DefaultValueFactory = _ => "on-demand,lru,next-layer,expertflow-no-ts,expertflow" };
        var fractions = new Option<string>("--cache") { Description = "Comma-separated cache sizes as shares of all experts, each in (0, 1].", DefaultValueFactory = _ => "0.1,0.25,0.5" };
        var batches = new Option<string>("--batch") { Description = "Comma-separated batch sizes.", DefaultValueFactory = _ => "1,16" };
        var newTokens = new Option<int>("--new-tokens") { Description = "Tokens generated per prompt.", DefaultValueFactory = _ => 24 };
        var runs = new Option<int>("--runs") { Description = "Dual-batch generations per case, each over 2 x batch fresh prompts (more runs: less timing noise).", DefaultValueFactory = _ => 2 };
        var output = new Option<string>("--out") { Description = "Report folder (report.md, results.json, PNG plots).", DefaultValueFactory = _ => Path.Combine("runs", "cache") };
        var lookahead = new Option<int>("--lookahead") { Description = "PLEC: layers ahead whose predicted experts are prefetched.", DefaultValueFactory = _ => 2 };
        var floor = new Option<float>("--prefetch-floor") { Description = "PLEC: experts the predictor scores below this are never prefetched (higher: fewer copies, more misses).", DefaultValueFactory = _ => PredictivePolicy.DefaultPrefetchFloor };
        var overlap = new Option<bool>("--overlap") { Description = "expertflow: predict each batch's next paths on a worker thread while the other batch computes. Off by default: on a 2-core CPU it was slower at batch 16 (docs/expertflow-prediction.md).", DefaultValueFactory = _ => false };
        var crossStep = new Option<bool>("--cross-step") { Description = "PLEC: while one batch computes, prefetch the first layers' experts of the waiting batch's next step (its tokens are known).", DefaultValueFactory = _ => true };
        var plots = new Option<bool>("--plots") { Description = "Write PNG plots (needs SkiaSharp's native library).", DefaultValueFactory = _ => true };
        var replot = new Option<string?>("--replot") { Description = "Only redraw the plots of an earlier report folder from its results.json." };
        var device = CommonOptions.Device();
        var verbose = CommonOptions.Verbose();
        var command = new Command("eval-cache", "Hit ratio, transfers, stall time and tokens/s of offloading policies (incl. expertflow = PLEC + predictor + token scheduler) on a model with held-out prompts.")
        {
            model, predictorDir, policies, fractions, batches, newTokens, runs, output, lookahead, floor, overlap, crossStep, plots, replot, device, verbose,
        };
        command.SetAction(parse =>
        {
            if (parse.GetValue(replot) is string again)
            {
                var saved = CacheEvaluationReport.ReadResults(again);
                CacheEvaluationReport.Plot(again, saved, saved.FirstOrDefault()?.Device ?? "");
                return 0;
            }
            var options = new CacheEvaluationOptions
            {
                ModelFolder = parse.GetValue(model)!, PredictorFolder = parse.GetValue(predictorDir), Device = ComputeDevice.Resolve(parse.GetValue(device)!),
                Policies = OptionValues.Names(parse.GetValue(policies)!, "--policies"), CacheShares = OptionValues.Fractions(parse.GetValue(fractions)!, "--cache"),
                Batches = OptionValues.Ints(parse.GetValue(batches)!, "--batch", 1), NewTokens = parse.GetValue(newTokens), Runs = parse.GetValue(runs),
                Predictive = new PredictiveOptions(parse.GetValue(lookahead), parse.GetValue(floor), parse.GetValue(crossStep)), OverlapPrediction = parse.GetValue(overlap),
                OutputFolder = parse.GetValue(output)!, Plots = parse.GetValue(plots), Command = "expertflow " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1)),
            };
            try { options.Validate(); }
            catch (ArgumentException e) { throw new ArgumentException($"eval-cache: {e.Message}"); }
            using var logging = CliApp.CreateLogging(parse.GetValue(verbose));
            var results = CacheEvaluation.Run(options, logging.CreateLogger("eval-cache"), new SynchronousProgress<string>(m => AnsiConsole.MarkupLine($"[grey]{Markup.Escape(m)}[/]")));
            var console = new Table().AddColumns("policy", "cache", "batch", "slots", "hit", "decode hit", "transfers", "stall s", "tok/s", "x lru", "experts/batch", "same ids");
            foreach (var r in results)
                console.AddRow(r.Case.Policy, r.Case.CacheFraction.ToString("P0", CultureInfo.InvariantCulture), r.Case.Batch.ToString(), r.Slots.ToString(), r.HitRatio.ToString("F3"), r.DecodeHitRatio.ToString("F3"),
                    r.Transfers.ToString(), r.StallSeconds.ToString("F3"), r.DecodeTokensPerSecond.ToString("F1"), CacheEvaluationReport.VersusLru(results, r)?.ToString("F2", CultureInfo.InvariantCulture) ?? "",
                    r.ExpertsPerBatchLayer.ToString("F2"), Markup.Escape(r.Error ?? (r.SameIdsAsResident ? "yes" : "NO")));
            AnsiConsole.Write(console);
            AnsiConsole.MarkupLine($"report: {Markup.Escape(Path.Combine(options.OutputFolder, "report.md"))}");
            return results.Any(r => r.Error == null && !r.SameIdsAsResident) ? 1 : 0;
        });
        return command;
    }
}
