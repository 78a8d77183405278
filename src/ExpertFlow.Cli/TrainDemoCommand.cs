using System.CommandLine;
using ExpertFlow.Demo;
using ExpertFlow.Tracing;
using Spectre.Console;
using Toolkit.Cli;
using Toolkit.Data.Text;
using Toolkit.Runtime;
using TorchSharp;

namespace ExpertFlow.Cli;

/// <summary><c>expertflow train-demo</c>: trains the Mixtral-style demo model on GCIDE text.</summary>
internal static class TrainDemoCommand
{
    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = "small: the embedded demo model's shape (the default); large: the ~1.1 B-parameter evaluation model (8 layers x 16 experts, hidden 1024), at most 9 minutes on a GPU, into runs/large-demo-moe. Options given here override the preset.", DefaultValueFactory = _ => "small" };
        var output = new Option<string>("--output") { Description = "Folder for config.json, model.safetensors, vocabulary, loss.png (default: the preset's, runs/demo-moe for small).", DefaultValueFactory = _ => Path.Combine("runs", "demo-moe") };
        var corpus = new Option<string>("--corpus") { Description = "Training texts: gcide (the installed GCIDE dictionary), a .dict.dz, a .jsonl file with \"text\" fields or a text file (one text per line).", DefaultValueFactory = _ => TextCorpus.Gcide };
        var entries = new Option<int>("--entries") { Description = "Texts used (spread over the whole corpus); every 50th is held out.", DefaultValueFactory = _ => CorpusSplit.DefaultEntries };
        var steps = new Option<int>("--steps") { Description = "Optimiser steps.", DefaultValueFactory = _ => 400 };
        var batch = new Option<int>("--batch") { Description = "Sequences per step.", DefaultValueFactory = _ => 16 };
        var length = new Option<int>("--seq-len") { Description = "Tokens per training sequence.", DefaultValueFactory = _ => 128 };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate (AdamW, warmup then cosine).", DefaultValueFactory = _ => 3e-3 };
        var vocab = new Option<int>("--vocab") { Description = "GPT-2 subset vocabulary size.", DefaultValueFactory = _ => 8192 };
        var hidden = new Option<int>("--hidden") { Description = "Hidden size.", DefaultValueFactory = _ => 128 };
        var ff = new Option<int>("--ff") { Description = "Expert intermediate size.", DefaultValueFactory = _ => 256 };
        var layers = new Option<int>("--layers") { Description = "Decoder layers.", DefaultValueFactory = _ => 4 };
        var experts = new Option<int>("--experts") { Description = "Experts per layer.", DefaultValueFactory = _ => 8 };
        var topK = new Option<int>("--top-k") { Description = "Experts per token.", DefaultValueFactory = _ => 2 };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "Write a checkpoint every N steps (atomically; the final model is always written).", DefaultValueFactory = _ => 100 };
        var minutes = new Option<double>("--max-minutes") { Description = "Train for at most this many minutes; the learning rate decays with the clock or the steps, whichever runs out first (0: run all steps).", DefaultValueFactory = _ => 0 };
        var threads = new Option<int>("--threads") { Description = "CPU threads for torch (0: libtorch default).", DefaultValueFactory = _ => 0 };
        var device = CommonOptions.Device();
        var seed = CommonOptions.Seed();
        var verbose = CommonOptions.Verbose();
        var command = new Command("train-demo", "Train the small Mixtral-style demo MoE on GCIDE dictionary text with a GPT-2 BPE subset vocabulary; saves a Hugging Face folder.")
        {
            preset, output, corpus, entries, steps, batch, length, lr, vocab, hidden, ff, layers, experts, topK, checkpointEvery, minutes, threads, device, seed, verbose,
        };
        command.SetAction(parse =>
        {
            LibTorch.EnsureLoaded();
            if (parse.GetValue(threads) > 0) torch.set_num_threads(parse.GetValue(threads));
            using var logging = CliApp.CreateLogging(parse.GetValue(verbose));
            var logger = logging.CreateLogger("train-demo");
            var dev = ComputeDevice.Resolve(parse.GetValue(device)!);
            int seedValue = parse.GetValue(seed);
            torch.manual_seed(seedValue);
            var shape = DemoPreset.Parse(parse.GetValue(preset)!);
            // an option typed on the command line wins over the preset
            T Pick<T>(Option<T> option, T fromPreset) => parse.GetResult(option) is { Implicit: false } ? parse.GetValue(option)! : fromPreset;
            int hiddenSize = Pick(hidden, shape.Config.HiddenSize);
            var config = new DemoMoeConfig
            {
                VocabSize = Pick(vocab, shape.Config.VocabSize), HiddenSize = hiddenSize, IntermediateSize = Pick(ff, shape.Config.IntermediateSize),
                NumLayers = Pick(layers, shape.Config.NumLayers), NumExperts = Pick(experts, shape.Config.NumExperts), TopK = Pick(topK, shape.Config.TopK),
                NumHeads = Math.Max(1, hiddenSize / 32), NumKeyValueHeads = Math.Max(1, hiddenSize / 64),
            };
            string outputDir = Pick(output, shape.Output);
            AnsiConsole.MarkupLine($"Model: {config.NumLayers} layers, {config.NumExperts} experts top-{config.TopK}, hidden {config.HiddenSize}, vocab {config.VocabSize}: {config.ParameterCount() / 1e6:F2} M parameters ({config.ParameterCount() * 4 / 1e6:F1} MB fp32)");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var split = new CorpusSplit(parse.GetValue(corpus)!, parse.GetValue(entries), CorpusSplit.DefaultHeldOutEvery);
            var data = DemoCorpus.Load(split, config.VocabSize);
            AnsiConsole.MarkupLine($"Corpus: {data.TrainEntries.Count} training entries ({data.TrainStream.Length} tokens), {data.HeldOutEntries.Count} held out; prepared in {clock.Elapsed.TotalSeconds:F0} s");
            var model = new DemoMixtral(config);
            model.to(dev);
            var options = new DemoTrainingOptions
            {
                Steps = Pick(steps, shape.Steps), BatchSize = parse.GetValue(batch), SequenceLength = parse.GetValue(length),
                LearningRate = Pick(lr, shape.LearningRate), Seed = seedValue, CheckpointEvery = Math.Max(1, Pick(checkpointEvery, shape.CheckpointEvery)),
                TimeLimit = Pick(minutes, shape.MaxMinutes) is > 0 and var limit ? TimeSpan.FromMinutes(limit) : null,
            };
            DemoTrainingResult? result = null;
            AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask("training", maxValue: options.Steps);
                    var progress = new SynchronousProgress<DemoTrainingProgress>(p =>
                    {
                        task.Value = p.Step;
                        task.Description = $"step {p.Step}/{p.TotalSteps} loss {p.Loss:F3} aux {p.AuxLoss:F3} {p.TokensPerSecond:F0} tok/s";
                    });
                    result = new DemoTrainer(logger).Train(model, data, options, outputDir, progress);
                });
            split.Save(outputDir);
            AnsiConsole.MarkupLine($"Held-out loss {result!.ValidationLoss:F3} (perplexity {Math.Exp(result.ValidationLoss):F1}); expert shares {string.Join(" ", result.ExpertShare.Select(s => s.ToString("P1")))}");
            AnsiConsole.MarkupLine($"Saved to {Markup.Escape(Path.GetFullPath(outputDir))}");
            return 0;
        });
        return command;
    }
}
