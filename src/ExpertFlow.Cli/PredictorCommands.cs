using System.CommandLine;
using ExpertFlow.Prediction;
using ExpertFlow.Tracing;
using Spectre.Console;
using Toolkit.Cli;
using Toolkit.Data.Text;
using Toolkit.Reporting;
using Toolkit.Runtime;
using TorchSharp;

namespace ExpertFlow.Cli;

/// <summary><c>expertflow train-predictor</c> and <c>expertflow eval-predictor</c>.</summary>
internal static class PredictorCommands
{
    public static Command Train()
    {
        var model = new Option<string>("--model") { Description = "Demo model folder (traced to make training data).", DefaultValueFactory = _ => "models/demo-moe" };
        var output = new Option<string>("--output") { Description = "Folder for traces, predictor weights, loss curve and report (default: MODEL/predictor)." };
        var entries = new Option<int>("--trace-entries") { Description = "Training entries to trace.", DefaultValueFactory = _ => 12000 };
        var maxLength = new Option<int>("--max-length") { Description = "Tokens per traced sequence (longer entries are cut).", DefaultValueFactory = _ => 64 };
        var generated = new Option<int>("--generated-entries") { Description = "Also trace the model's greedy continuations of this many other training prompts (24 tokens), the text decoding feeds it.", DefaultValueFactory = _ => 4000 };
        var steps = new Option<int>("--steps") { Description = "Optimiser steps.", DefaultValueFactory = _ => 6000 };
        var batch = new Option<int>("--batch") { Description = "Examples per step.", DefaultValueFactory = _ => 32 };
        var dim = new Option<int>("--dim") { Description = "Predictor width.", DefaultValueFactory = _ => 128 };
        var minutes = new Option<double>("--max-minutes") { Description = "Stop training after this many minutes (0: run all steps).", DefaultValueFactory = _ => 0 };
        var seed = CommonOptions.Seed();
        var device = CommonOptions.Device();
        var command = new Command("train-predictor", "Trace the demo model over GCIDE entries and train the routing path predictor (T5-style encoder-decoder over token ids, BCE on traces); prints held-out accuracy.")
        {
            model, output, entries, maxLength, generated, steps, batch, dim, minutes, seed, device,
        };
        command.SetAction(parse =>
        {
            LibTorch.EnsureLoaded();
            torch.manual_seed(parse.GetValue(seed));
            var dev = ComputeDevice.Resolve(parse.GetValue(device)!);
            string modelDir = parse.GetValue(model)!;
            string outDir = parse.GetValue(output) ?? Path.Combine(modelDir, "predictor");
            int length = parse.GetValue(maxLength);
            Directory.CreateDirectory(outDir);
            var (header, train, heldOut) = PredictorWorkflow.TraceDemoModel(modelDir, outDir, parse.GetValue(entries), length,
                new SynchronousProgress<string>(m => AnsiConsole.MarkupLine(Markup.Escape(m))), parse.GetValue(generated), dev);
            AnsiConsole.MarkupLine($"Traced {train.Sum(t => t.Length)} training and {heldOut.Sum(t => t.Length)} held-out tokens into {Markup.Escape(outDir)}");
            var tokenizer = Gpt2SubsetTokenizer.Load(Path.Combine(modelDir, Gpt2SubsetTokenizer.FileName));
            var config = new PredictorConfig
            {
                VocabSize = tokenizer.VocabularySize, NumLayers = header.NumLayers, NumExperts = header.NumExperts, TopK = header.TopK,
                ModelDim = parse.GetValue(dim), Heads = Math.Max(1, parse.GetValue(dim) / 32), FeedForwardDim = 2 * parse.GetValue(dim), MaxPositions = 2 * length + 1,
            };
            var predictor = new RoutingPathPredictor(config);
            predictor.to(dev);
            long parameters = predictor.parameters().Sum(p => p.numel());
            AnsiConsole.MarkupLine($"Predictor: {parameters / 1e6:F2} M parameters ({parameters * 4 / 1e6:F1} MB fp32)");
            var options = new PredictorTrainingOptions { Steps = parse.GetValue(steps), BatchSize = parse.GetValue(batch), MaxLength = length, Seed = parse.GetValue(seed),
                TimeLimit = parse.GetValue(minutes) > 0 ? TimeSpan.FromMinutes(parse.GetValue(minutes)) : null };
            IReadOnlyList<double> losses = [];
            var clock = System.Diagnostics.Stopwatch.StartNew();
            AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask("training", maxValue: options.Steps);
                    losses = PredictorTrainer.Train(predictor, train, header, options, new SynchronousProgress<PredictorTrainingProgress>(p =>
                    {
                        task.Value = p.Step;
                        task.Description = $"step {p.Step}/{p.TotalSteps} BCE {p.Loss:F4} {p.TokensPerSecond:F0} tok/s";
                    }));
                });
            PredictorTrainer.Save(predictor, outDir);
            var x = Enumerable.Range(1, losses.Count).Select(i => (double)i).ToList();
            Charts.Line(Path.Combine(outDir, "predictor_loss.png"), "Routing path predictor training (masked BCE)", "step", "BCE", [new Series("BCE", x, losses)]);
            AnsiConsole.MarkupLine($"Trained {losses.Count} steps in {clock.Elapsed.TotalSeconds:F0} s; saved to {Markup.Escape(outDir)}");
            Files.WriteAllTextAtomically(Path.Combine(outDir, "predictor_training.json"), System.Text.Json.JsonSerializer.Serialize(new { steps = losses.Count, planned_steps = options.Steps, seconds = clock.Elapsed.TotalSeconds, final_loss = losses.Count > 0 ? losses[^1] : 0, options.BatchSize, parameters }));
            Report(predictor, header, train, heldOut, length, outDir);
            return 0;
        });
        return command;
    }

    public static Command Evaluate()
    {
        var predictorDir = new Option<string>("--predictor") { Description = "Folder written by train-predictor (predictor and its traces).", DefaultValueFactory = _ => "models/demo-moe/predictor" };
        var maxLength = new Option<int>("--max-length") { Description = "Tokens per sequence evaluated.", DefaultValueFactory = _ => 64 };
        var device = CommonOptions.Device();
        var command = new Command("eval-predictor", "Held-out accuracy of the routing path predictor next to heuristics: per-token recall and precision, per-batch coverage.")
        {
            predictorDir, maxLength, device,
        };
        command.SetAction(parse =>
        {
            LibTorch.EnsureLoaded();
            string dir = parse.GetValue(predictorDir)!;
            var predictor = PredictorTrainer.Load(dir);
            predictor.to(ComputeDevice.Resolve(parse.GetValue(device)!));
            var (header, trainRoutes) = RoutingTraceFile.Read(Path.Combine(dir, PredictorWorkflow.TrainTraceFile));
            var (_, heldOutRoutes) = RoutingTraceFile.Read(Path.Combine(dir, PredictorWorkflow.HeldOutTraceFile));
            Report(predictor, header, RoutingTraceFile.ToSequences(trainRoutes), RoutingTraceFile.ToSequences(heldOutRoutes), parse.GetValue(maxLength), dir);
            return 0;
        });
        return command;
    }

    static void Report(RoutingPathPredictor predictor, RoutingTraceHeader header, IReadOnlyList<TracedSequence> train, IReadOnlyList<TracedSequence> heldOut, int maxLength, string dir)
    {
        var metrics = PredictorWorkflow.Evaluate(predictor, header, train, heldOut, maxLength);
        var table = new Table().AddColumns("method", "mode", "tokens", "recall@k", "recall p>=.5", "precision p>=.5", "batch-16 coverage", "pred/needed per layer");
        foreach (var m in metrics)
            table.AddRow(Markup.Escape(m.Method), m.Mode, m.Tokens.ToString(), $"{m.Recall:P1}", $"{m.ThresholdRecall:P1}", $"{m.ThresholdPrecision:P1}", $"{m.BatchCoverage:P1}", $"{m.PredictedPerBatch:F2}/{m.TruePerBatch:F2}");
        AnsiConsole.Write(table);
        var scorer = new PredictorScorer(predictor, header);
        var scheduling = new Toolkit.Reporting.MarkdownTable("batch size", "decode steps", "experts/layer per batch, arrival order", "with token scheduler (predicted paths)", "scheduler on true paths (bound)", "split time ms");
        var schedulingTable = new Table().AddColumns("batch", "steps", "in order", "scheduled", "oracle", "split ms");
        foreach (int batch in new[] { 4, 16 })
        {
            var s = Scheduling.SchedulingEvaluation.Evaluate(scorer, heldOut, header, batch, maxLength);
            scheduling.Add(batch, s.Steps, s.InOrder.ToString("F2"), s.Scheduled.ToString("F2"), s.Oracle.ToString("F2"), s.MeanSplitMilliseconds.ToString("F2"));
            schedulingTable.AddRow(batch.ToString(), s.Steps.ToString(), s.InOrder.ToString("F2"), s.Scheduled.ToString("F2"), s.Oracle.ToString("F2"), s.MeanSplitMilliseconds.ToString("F2"));
        }
        AnsiConsole.MarkupLine("Distinct experts per layer each batch activates (two batches regrouped per decode step, true routing counted):");
        AnsiConsole.Write(schedulingTable);
        Files.WriteAllTextAtomically(Path.Combine(dir, "eval.md"), PredictorWorkflow.Table(metrics).ToString() + "\n" + scheduling);
    }
}
