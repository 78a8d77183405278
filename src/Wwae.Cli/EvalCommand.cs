using System.CommandLine;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Spectre.Console;
using TorchSharp;
using Toolkit.Cli;
using Toolkit.Data.Images;
using Toolkit.Reporting;
using Toolkit.Runtime;
using Wwae.Data;
using Wwae.Evaluation;

namespace Wwae.Cli;

/// <summary><c>wwae eval</c>: FD and KID of trained runs against the test split, with the real-vs-real baseline.</summary>
static class EvalCommand
{
    public static Command Create()
    {
        var runs = new Option<string[]>("--runs") { Description = "Run folders to score (or folders holding run folders).", Required = true, AllowMultipleArgumentsPerToken = true };
        var dataset = new Option<string>("--dataset") { Description = "Data set the runs were trained on.", DefaultValueFactory = _ => "fashion-mnist" };
        var data = new Option<string?>("--data") { Description = "Data folder (see wwae train; folder:PATH for any folder of images)." };
        var imageSize = new Option<int>("--image-size") { Description = "Side of the images from --data folder:PATH.", DefaultValueFactory = _ => 64 };
        var skipDamaged = new Option<bool>("--skip-damaged") { Description = "Leave images that cannot be decoded out instead of stopping." };
        var split = new Option<string>("--split") { Description = "Real images to compare with: test (report) or validation (choosing lambda; see docs/wwae.md).", DefaultValueFactory = _ => "test" };
        var features = new Option<string>("--features") { Description = "resnet18 (ImageNet ResNet-18, ONNX), classifier (needs --classifier) or inception (needs --inception-weights).", DefaultValueFactory = _ => "classifier" };
        var classifier = new Option<string?>("--classifier") { Description = "Classifier weights from wwae train-classifier." };
        var resnetDir = new Option<string?>("--resnet-dir") { Description = "Folder holding ResNet18Onnx/ and ResNetPrepOnnx/ (default: DnnImageModels next to the tool)." };
        var inception = new Option<string?>("--inception-weights") { Description = "pytorch-fid Inception-v3 weights as safetensors (see bench/wwae/convert_inception.py)." };
        var samples = new Option<int>("--samples") { Description = "Generated and real images per comparison.", DefaultValueFactory = _ => 2000 };
        var output = new Option<string?>("--out") { Description = "JSON file for the scores (a markdown table is written beside it; default runs/wwae/eval-FEATURES-SPLIT.json)." };
        var device = CommonOptions.Device();
        var verbose = CommonOptions.Verbose();
        var command = new Command("eval", "Frechet distance and KID between generated and real images on the chosen features, with a real-vs-real baseline.");
        foreach (var o in new Option[] { runs, dataset, data, imageSize, skipDamaged, split, features, classifier, resnetDir, inception, samples, output, device, verbose }) command.Options.Add(o);
        command.SetAction(p =>
        {
            using var logging = CliApp.CreateLogging(p.GetValue(verbose));
            var logger = logging.CreateLogger("wwae");
            var dev = ComputeDevice.Resolve(p.GetValue(device));
            var spec = DataSpec.Parse(p.GetValue(dataset)!, p.GetValue(data), p.GetValue(imageSize), p.GetValue(skipDamaged));
            string name = spec.Name;
            var splitName = p.GetValue(split)!.ToLowerInvariant();
            var against = splitName switch
            {
                "test" => DatasetSplit.Test,
                "validation" => DatasetSplit.Validation,
                _ => throw new ArgumentException($"--split {splitName}: use test or validation."),
            };
            string outPath = OutputPaths.EnsureParentOf(p.GetValue(output) ?? Path.Combine(OutputPaths.Root, $"eval-{p.GetValue(features)}-{splitName}.json"), "--out");
            var folders = ExpandRuns(p.GetValue(runs)!);
            var test = TrainCommand.Load(spec, against, logger);
            var train = TrainCommand.Load(spec, DatasetSplit.Train, logger);
            using IFeatureExtractor extractor = p.GetValue(features) switch
            {
                "resnet18" => new ResNet18Features(p.GetValue(resnetDir)),
                "classifier" => new ClassifierFeatures(DatasetClassifier.Load(p.GetValue(classifier) ?? throw new ArgumentException("--features classifier needs --classifier FILE (from wwae train-classifier).")), dev, name),
                "inception" => InceptionV3Features.Load(p.GetValue(inception) ?? throw new ArgumentException("--features inception needs --inception-weights FILE."), dev),
                var f => throw new ArgumentException($"--features {f}: use resnet18, classifier or inception."),
            };
            if (p.GetValue(samples) < 2) throw new ArgumentException("--samples must be at least 2.");
            var evaluator = new Evaluator(extractor, test, train, p.GetValue(samples), dev, logger);
            var scores = new List<FeatureScore>();
            AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn()).Start(ctx =>
            {
                foreach (var subject in new[] { "real" }.Concat(folders))
                {
                    var bar = ctx.AddTask(subject == "real" ? "real vs real" : Path.GetFileName(subject), maxValue: evaluator.Samples * (scores.Count == 0 ? 2 : 1));
                    var progress = new Progress<int>(n => bar.Value = Math.Max(bar.Value, n + (scores.Count == 0 && bar.Value >= evaluator.Samples ? evaluator.Samples : 0)));
                    scores.Add(subject == "real" ? evaluator.RealBaseline(progress) : evaluator.ScoreRun(subject, progress));
                    bar.Value = bar.MaxValue;
                    // Written after every subject, so a long evaluation that is stopped keeps what it measured.
                    Files.WriteAllTextAtomically(outPath, JsonSerializer.Serialize(scores, new JsonSerializerOptions { WriteIndented = true }));
                }
            });
            Files.WriteAllTextAtomically(outPath, JsonSerializer.Serialize(scores, new JsonSerializerOptions { WriteIndented = true }));
            var md = new MarkdownTable("subject", "model", "seed", "features", "samples", "FD", "KID (x1e3)", "KID std (x1e3)");
            var table = new Table().AddColumns("subject", "FD", "KID x1e3");
            foreach (var s in scores)
            {
                md.Add(s.Subject, s.Model, s.Seed, s.Features, s.Samples, s.FrechetDistance, s.KidMean * 1e3, s.KidStd * 1e3);
                table.AddRow(s.Subject, $"{s.FrechetDistance:F3}", $"{s.KidMean * 1e3:F3}");
            }
            Files.WriteAllTextAtomically(Path.ChangeExtension(outPath, ".md"), md.ToString());
            AnsiConsole.Write(table);
            return 0;
        });
        return command;
    }

    static List<string> ExpandRuns(string[] paths)
    {
        var result = new List<string>();
        foreach (var path in paths)
        {
            if (Wwae.Training.Checkpoint.Exists(path)) result.Add(path);
            else if (Directory.Exists(path))
            {
                var inner = Directory.GetDirectories(path).Where(Wwae.Training.Checkpoint.Exists).Order().ToList();
                if (inner.Count == 0) throw new DirectoryNotFoundException($"'{path}' is neither a run folder nor a folder of run folders (no state.json found).");
                result.AddRange(inner);
            }
            else throw new DirectoryNotFoundException($"run folder '{path}' does not exist.");
        }
        return result;
    }
}
