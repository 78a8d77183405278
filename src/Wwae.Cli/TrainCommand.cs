using System.CommandLine;
using Microsoft.Extensions.Logging;
using Spectre.Console;
using Toolkit.Cli;
using Toolkit.Data.Images;
using Toolkit.Runtime;
using Wwae.Data;
using Wwae.Reports;
using Wwae.Training;

namespace Wwae.Cli;

/// <summary><c>wwae train</c> (one model, one seed) and <c>wwae compare</c> (several models and seeds in one process).</summary>
static class TrainCommand
{
    public static Command Train()
    {
        var args = new TrainArguments();
        var model = new Option<string>("--model") { Description = "wwae, vae, beta-vae, wae-mmd or wae-gan.", DefaultValueFactory = _ => "wwae" };
        var output = new Option<string?>("--out") { Description = "Run folder: checkpoints, loss curves, image grids, metrics (default runs/wwae/MODEL-sSEED)." };
        var resume = new Option<bool>("--resume") { Description = "Continue the checkpoint in --out." };
        var device = CommonOptions.Device();
        var seed = CommonOptions.Seed();
        var verbose = CommonOptions.Verbose();
        var command = new Command("train", "Train one auto-encoder (WWAE, VAE, beta-VAE, WAE-MMD or WAE-GAN) and write its report.");
        foreach (var o in args.All) command.Options.Add(o);
        foreach (var o in new Option[] { model, output, resume, device, seed, verbose }) command.Options.Add(o);
        command.SetAction(p =>
        {
            using var logging = CliApp.CreateLogging(p.GetValue(verbose));
            var dev = ComputeDevice.Resolve(p.GetValue(device));
            var kind = TrainArguments.ParseModel(p.GetValue(model)!);
            if (kind == ModelKind.BetaVae && p.GetValue(args.Lambda) != null) throw new ArgumentException("--model beta-vae is weighted by --beta, not --lambda.");
            string outDir = OutputPaths.EnsureFolder(p.GetValue(output) ?? Path.Combine(OutputPaths.Root, $"{TrainArguments.ModelName(kind)}-s{p.GetValue(seed)}"), "--out");
            var logger = logging.CreateLogger("wwae");
            var (train, test) = LoadData(p, args, logger);
            var options = args.Build(p, kind, p.GetValue(seed), train.Height);
            options.Validate();
            RunOne(options, train, test, args.DataSpec(p).Name, outDir, p.GetValue(resume), dev, logger);
            return 0;
        });
        return command;
    }

    public static Command Compare()
    {
        var args = new TrainArguments();
        var models = new Option<string>("--models") { Description = "Comma-separated models (wwae, vae, beta-vae, wae-mmd, wae-gan).", DefaultValueFactory = _ => "wwae,vae,wae-mmd" };
        var seeds = new Option<string>("--seeds") { Description = "Comma-separated seeds.", DefaultValueFactory = _ => "1,2,3" };
        var output = new Option<string>("--out") { Description = "Folder for the run folders (MODEL-sSEED).", DefaultValueFactory = _ => Path.Combine(OutputPaths.Root, "compare") };
        var resume = new Option<bool>("--resume") { Description = "Continue run folders that hold checkpoints." };
        var device = CommonOptions.Device();
        var verbose = CommonOptions.Verbose();
        var command = new Command("compare", "Train several models and seeds with the same data, architecture and budget (one process).");
        foreach (var o in args.All) command.Options.Add(o);
        foreach (var o in new Option[] { models, seeds, output, resume, device, verbose }) command.Options.Add(o);
        command.SetAction(p =>
        {
            using var logging = CliApp.CreateLogging(p.GetValue(verbose));
            var dev = ComputeDevice.Resolve(p.GetValue(device));
            var kinds = p.GetValue(models)!.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(TrainArguments.ParseModel).ToList();
            var seedList = p.GetValue(seeds)!.Split(',', StringSplitOptions.RemoveEmptyEntries)
                .Select(s => int.TryParse(s.Trim(), out int v) ? v : throw new ArgumentException($"--seeds: '{s}' is not a whole number.")).ToList();
            OutputPaths.EnsureFolder(p.GetValue(output)!, "--out");
            var logger = logging.CreateLogger("wwae");
            var (train, test) = LoadData(p, args, logger);
            foreach (var kind in kinds) args.Build(p, kind, seedList.FirstOrDefault(), train.Height).Validate();
            var table = new Table().AddColumns("run", "epochs", "test L2 / image", "test MSE / pixel", "train images/s");
            foreach (int s in seedList)
                foreach (var kind in kinds)
                {
                    string dir = Path.Combine(p.GetValue(output)!, $"{TrainArguments.ModelName(kind)}-s{s}");
                    var m = RunOne(args.Build(p, kind, s, train.Height), train, test, args.DataSpec(p).Name, dir, p.GetValue(resume), dev, logger);
                    table.AddRow(Path.GetFileName(dir), m.Epochs.ToString(), $"{m.TestSquaredL2PerImage:F3}", $"{m.TestMsePerPixel:F5}", $"{m.MeanTrainImagesPerSecond:F0}");
                }
            AnsiConsole.Write(table);
            return 0;
        });
        return command;
    }

    internal static (IImageSource Train, IImageSource Test) LoadData(ParseResult p, TrainArguments args, ILogger logger)
    {
        var spec = args.DataSpec(p);
        var train = Datasets.Limit(Load(spec, DatasetSplit.Train, logger), p.GetValue(args.Limit));
        var test = Load(spec, DatasetSplit.Test, logger);
        return (train, test);
    }

    /// <summary>Loads a split, warning with their count when damaged images were left out (--skip-damaged).</summary>
    internal static IImageSource Load(DataSpec spec, DatasetSplit split, ILogger logger)
    {
        IImageSource source;
        try { source = Datasets.Load(spec, split); }
        catch (InvalidDataException e) when (e.Data.Contains(ImageFolder.DamagedImagesKey))
        {
            throw new InvalidDataException(e.Message[..^"leave them out.".Length] + "pass --skip-damaged to leave them out.", e);
        }
        if (source is ImageFolder folder && folder.Damaged.Count > 0)
            logger.LogWarning("left out {Count} of {Total} {Split} images that cannot be decoded (first: {First})",
                folder.Damaged.Count, folder.Damaged.Count + folder.Count, split.ToString().ToLowerInvariant(), folder.Damaged[0]);
        return source;
    }

    static RunMetrics RunOne(TrainingOptions options, IImageSource train, IImageSource test, string dataset, string output, bool resume,
        TorchSharp.torch.Device device, ILogger logger)
    {
        var trainer = new Trainer(options, train, dataset, device, logger);
        logger.LogInformation("{Model} seed {Seed} on {Dataset} ({Count} images, {C}x{H}x{W}) on {Device}: {Steps} steps per epoch -> {Out}",
            TrainArguments.ModelName(options.Model), options.Seed, dataset, train.Count, train.Channels, train.Height, train.Width, device, trainer.StepsPerEpoch, output);
        Wwae.Models.GaussianAutoEncoder? model = null;
        CheckpointState? state = null;
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var bar = ctx.AddTask($"{TrainArguments.ModelName(options.Model)} s{options.Seed}", maxValue: (double)options.Epochs * trainer.StepsPerEpoch);
                var progress = new Progress<TrainingProgress>(pr =>
                {
                    bar.Value = (pr.Epoch - 1.0) * pr.StepsPerEpoch + pr.Step;
                    bar.Description = $"{TrainArguments.ModelName(options.Model)} s{options.Seed} epoch {pr.Epoch}/{pr.Epochs} loss {pr.Loss:F3}";
                });
                (model, state) = trainer.Run(output, resume, progress);
                bar.Value = bar.MaxValue;
            });
        using (model!)
        {
            var metrics = RunArtifacts.Write(output, model!, state!, test, device);
            logger.LogInformation("{Out}: test reconstruction {L2:F3} per image (squared L2), wrote loss.png, samples.png, reconstructions.png, interpolation.png, metrics.json",
                output, metrics.TestSquaredL2PerImage);
            return metrics;
        }
    }
}
