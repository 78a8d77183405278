using System.CommandLine;
using ExpertFlow.Evaluation;
using ExpertFlow.Model;
using ExpertFlow.Prediction;
using ExpertFlow.Tracing;
using Spectre.Console;
using Toolkit.Cli;
using Toolkit.Runtime;
using TorchSharp;

namespace ExpertFlow.Cli;

/// <summary><c>expertflow trace</c>, <c>expertflow train-predictor</c> and <c>expertflow eval-predictor</c>.</summary>
internal static class PredictorCommands
{
    static Option<string> Corpus() => new("--corpus")
    {
        Description = "Texts to trace: gcide (the installed GCIDE dictionary), a .dict.dz, a .jsonl file with \"text\" fields or a text file (one text per line). Default: the corpus the model records in training.json, else gcide.",
    };

    public static Command Trace()
    {
        var model = new Option<string>("--model") { Description = "Model folder (any supported decoder-only family, with its tokenizer).", Required = true };
        var output = new Option<string?>("--output") { Description = "Folder for train.eftrace and heldout.eftrace (default: MODEL/predictor)." };
        var corpus = Corpus();
        var entries = new Option<int>("--trace-entries") { Description = "Training texts to trace.", DefaultValueFactory = _ => 12000 };
        var maxLength = new Option<int>("--max-length") { Description = "Tokens per traced sequence (longer texts are cut).", DefaultValueFactory = _ => 64 };
        var generated = new Option<int>("--generated-entries") { Description = "Also trace the model's greedy continuations of this many other training prompts (24 tokens).", DefaultValueFactory = _ => 4000 };
        var device = CommonOptions.Device();
        var command = new Command("trace", "Record a model's routing (every MoE layer's experts per token) over a corpus with its own tokenizer and forward pass, as .eftrace files.")
        {
            model, output, corpus, entries, maxLength, generated, device,
        };
        command.SetAction(parse =>
        {
            var options = new PredictorBuildOptions
            {
                ModelFolder = parse.GetValue(model)!, OutputFolder = parse.GetValue(output), Corpus = parse.GetValue(corpus), TraceEntries = parse.GetValue(entries),
                GeneratedEntries = parse.GetValue(generated), MaxLength = parse.GetValue(maxLength), Device = ComputeDevice.Resolve(parse.GetValue(device)!),
            };
            options.Validate();
            var tokenizer = ModelTokenizer.Load(options.ModelFolder);
            using var m = MoeModels.Load(options.ModelFolder, new ModelLoadOptions { Device = options.Device });
            var traces = TraceSetBuilder.Build(m, tokenizer, options.Tracing, Log());
            traces.Save(options.OutputPath);
            AnsiConsole.MarkupLineInterpolated($"Traced {traces.Train.Sum(t => t.Length)} training and {traces.HeldOut.Sum(t => t.Length)} held-out tokens ({traces.Header.NumLayers} MoE layers x {traces.Header.NumExperts} experts top-{traces.Header.TopK}) into {options.OutputPath}");
            return 0;
        });
        return command;
    }

    public static Command Train()
    {
        var model = new Option<string>("--model") { Description = "Model folder to trace and train for (any supported decoder-only family, with its tokenizer).", Required = true };
        var output = new Option<string?>("--output") { Description = "Folder for traces, predictor weights, loss curve and report (default: MODEL/predictor)." };
        var corpus = Corpus();
        var entries = new Option<int>("--trace-entries") { Description = "Training texts to trace.", DefaultValueFactory = _ => 12000 };
        var maxLength = new Option<int>("--max-length") { Description = "Tokens per traced sequence (longer texts are cut).", DefaultValueFactory = _ => 64 };
        var generated = new Option<int>("--generated-entries") { Description = "Also trace the model's greedy continuations of this many other training prompts (24 tokens), the text decoding feeds it.", DefaultValueFactory = _ => 4000 };
        var reuse = new Option<bool>("--reuse-traces") { Description = "Train on the traces already in the output folder (from trace or an earlier run) instead of tracing again." };
        var steps = new Option<int>("--steps") { Description = "Optimiser steps.", DefaultValueFactory = _ => 6000 };
        var batch = new Option<int>("--batch") { Description = "Examples per step.", DefaultValueFactory = _ => 32 };
        var dim = new Option<int>("--dim") { Description = "Predictor width (a multiple of 32).", DefaultValueFactory = _ => 128 };
        var minutes = new Option<double>("--max-minutes") { Description = "Stop training after this many minutes (0: run all steps).", DefaultValueFactory = _ => 0 };
        var seed = CommonOptions.Seed();
        var device = CommonOptions.Device();
        var command = new Command("train-predictor", "Trace a model over a corpus and train its routing-path predictor (T5-style encoder-decoder over token ids, BCE on traces); prints held-out accuracy.")
        {
            model, output, corpus, entries, maxLength, generated, reuse, steps, batch, dim, minutes, seed, device,
        };
        command.SetAction(parse =>
        {
            LibTorch.EnsureLoaded();
            torch.manual_seed(parse.GetValue(seed));
            var options = new PredictorBuildOptions
            {
                ModelFolder = parse.GetValue(model)!, OutputFolder = parse.GetValue(output), Corpus = parse.GetValue(corpus), TraceEntries = parse.GetValue(entries),
                GeneratedEntries = parse.GetValue(generated), MaxLength = parse.GetValue(maxLength), ReuseTraces = parse.GetValue(reuse), Dim = parse.GetValue(dim),
                Device = ComputeDevice.Resolve(parse.GetValue(device)!),
                Training = new PredictorTrainingOptions
                {
                    Steps = parse.GetValue(steps), BatchSize = parse.GetValue(batch), Seed = parse.GetValue(seed),
                    TimeLimit = parse.GetValue(minutes) > 0 ? TimeSpan.FromMinutes(parse.GetValue(minutes)) : null,
                },
            };
            options.Validate();
            BuiltPredictor? built = null;
            AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask("tracing", maxValue: options.Training.Steps);
                    built = PredictorBuilder.Build(options, new SynchronousProgress<string>(m => task.Description = Markup.Escape(m)),
                        new SynchronousProgress<PredictorTrainingProgress>(p =>
                        {
                            task.Value = p.Step;
                            task.Description = $"step {p.Step}/{p.TotalSteps} BCE {p.Loss:F4} {p.TokensPerSecond:F0} tok/s";
                        }));
                });
            AnsiConsole.MarkupLineInterpolated($"Predictor: {built!.Parameters / 1e6:F2} M parameters, trained {built.Losses.Count} steps in {built.Seconds:F0} s; saved to {options.OutputPath}");
            using (built.Predictor) Report(built.Predictor, built.Traces, options.MaxLength, options.OutputPath);
            return 0;
        });
        return command;
    }

    public static Command Evaluate()
    {
        var predictorDir = new Option<string>("--predictor") { Description = "Folder written by train-predictor (predictor and its traces).", DefaultValueFactory = _ => "models/demo-moe/predictor" };
        var maxLength = new Option<int>("--max-length") { Description = "Tokens per sequence evaluated.", DefaultValueFactory = _ => 64 };
        var output = new Option<string>("--out") { Description = "Folder for the report (eval.md, results.json, reliability.png).", DefaultValueFactory = _ => Path.Combine("runs", "predictor-eval") };
        var calibrate = new Option<bool>("--calibrate") { Description = $"Fit the predictor's temperature on its training traces (1,000 sequences) and save it beside it ({PredictorCalibration.FileName}, used by generate, serve and eval-cache); the report shows the calibration before and after." };
        var device = CommonOptions.Device();
        var command = new Command("eval-predictor", "Held-out accuracy of the routing path predictor next to heuristics: per-token recall and precision, per-batch coverage, per-layer metrics and the calibration of its probabilities (reliability diagram, ECE).")
        {
            predictorDir, maxLength, output, calibrate, device,
        };
        command.SetAction(parse =>
        {
            LibTorch.EnsureLoaded();
            string dir = parse.GetValue(predictorDir)!;
            var traces = TraceSet.Load(dir);
            using var predictor = PredictorTrainer.Load(dir);
            if (predictor.Config.NumLayers != traces.Header.NumLayers || predictor.Config.NumExperts != traces.Header.NumExperts)
                throw new InvalidDataException($"the predictor in '{dir}' does not match its traces ({traces.Header}); train it again");
            predictor.to(ComputeDevice.Resolve(parse.GetValue(device)!));
            string outDir = parse.GetValue(output)!;
            Directory.CreateDirectory(outDir);
            var temperature = PredictorCalibration.Load(dir);
            if (parse.GetValue(calibrate))
            {
                temperature = PredictorCalibration.Fit(new PredictorScorer(predictor, traces.Header), traces.Train, traces.Header, parse.GetValue(maxLength));
                temperature.Save(dir);
                AnsiConsole.MarkupLineInterpolated($"Temperature {temperature.Temperature:F3} fitted on {temperature.Samples} training probabilities (BCE {temperature.BceBefore:F5} -> {temperature.BceAfter:F5}); saved to {Path.Combine(dir, PredictorCalibration.FileName)}");
            }
            Report(predictor, traces, parse.GetValue(maxLength), outDir, temperature);
            return 0;
        });
        return command;
    }

    static IProgress<string> Log() => new SynchronousProgress<string>(m => AnsiConsole.MarkupLine($"[grey]{Markup.Escape(m)}[/]"));

    static void Report(RoutingPathPredictor predictor, TraceSet traces, int maxLength, string dir, PredictorCalibration? temperature = null)
    {
        var report = PredictorReport.Evaluate(predictor, traces, maxLength, temperature);
        report.Write(dir);
        var table = new Table().AddColumns("method", "mode", "tokens", "recall@k", "recall p>=.5", "precision p>=.5", "batch-16 coverage", "pred/needed per layer");
        foreach (var m in report.Metrics)
            table.AddRow(Markup.Escape(m.Method), m.Mode, m.Tokens.ToString(), $"{m.Recall:P1}", $"{m.ThresholdRecall:P1}", $"{m.ThresholdPrecision:P1}", $"{m.BatchCoverage:P1}", $"{m.PredictedPerBatch:F2}/{m.TruePerBatch:F2}");
        AnsiConsole.Write(table);
        var layers = new Table().AddColumns("mode", "layer", "recall@k", "recall p>=.5", "precision p>=.5", "precision p>=.3", "recall score>=.3", "precision score>=.3");
        foreach (var l in report.Layers)
            layers.AddRow(l.Mode, l.Layer.ToString(), $"{l.RecallAtK:P1}", $"{l.ThresholdRecall:P1}", $"{l.ThresholdPrecision:P1}", $"{l.FloorPrecision:P1}", $"{l.NormalisedFloorRecall:P1}", $"{l.NormalisedFloorPrecision:P1}");
        AnsiConsole.MarkupLine("The predictor per MoE layer (score: probabilities scaled to sum to top-k per layer, as PLEC uses them):");
        AnsiConsole.Write(layers);
        foreach (var r in report.Calibration)
            AnsiConsole.MarkupLineInterpolated($"Expected calibration error, {CalibrationEvaluation.Name(r)}: {r.ExpectedCalibrationError:F4} ({r.Count} predictions)");
        var scheduling = new Table().AddColumns("batch", "steps", "in order", "scheduled", "oracle", "split ms");
        foreach (var s in report.Scheduling)
            scheduling.AddRow(s.BatchSize.ToString(), s.Steps.ToString(), s.InOrder.ToString("F2"), s.Scheduled.ToString("F2"), s.Oracle.ToString("F2"), s.MeanSplitMilliseconds.ToString("F2"));
        AnsiConsole.MarkupLine("Distinct experts per layer each batch activates (two batches regrouped per decode step, true routing counted):");
        AnsiConsole.Write(scheduling);
        AnsiConsole.MarkupLineInterpolated($"report: {Path.Combine(dir, PredictorReport.ReportFile)}, {PredictorReport.ResultsFile}, {PredictorReport.ReliabilityFile}");
    }
}
