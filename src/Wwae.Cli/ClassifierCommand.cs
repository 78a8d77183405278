using System.CommandLine;
using Microsoft.Extensions.Logging;
using Toolkit.Cli;
using Toolkit.Data.Images;
using Toolkit.Runtime;
using Wwae.Data;
using Wwae.Evaluation;

namespace Wwae.Cli;

/// <summary><c>wwae train-classifier</c>: the data-set classifier whose features --features classifier uses.</summary>
static class ClassifierCommand
{
    public static Command Create()
    {
        var dataset = new Option<string>("--dataset") { Description = "fashion-mnist or mnist.", DefaultValueFactory = _ => "fashion-mnist" };
        var data = new Option<string?>("--data") { Description = "Data folder (see wwae train)." };
        var epochs = new Option<int>("--epochs") { Description = "Training epochs.", DefaultValueFactory = _ => 5 };
        var output = new Option<string>("--out") { Description = "Weights file to write.", DefaultValueFactory = _ => Path.Combine(OutputPaths.Root, "classifier.bin") };
        var device = CommonOptions.Device();
        var seed = CommonOptions.Seed();
        var command = new Command("train-classifier", "Train the small CNN classifier whose penultimate features serve for FD/KID.");
        foreach (var o in new Option[] { dataset, data, epochs, output, device, seed }) command.Options.Add(o);
        command.SetAction(p =>
        {
            using var logging = CliApp.CreateLogging(false);
            var logger = logging.CreateLogger("wwae");
            var dev = ComputeDevice.Resolve(p.GetValue(device));
            string name = p.GetValue(dataset)!;
            string outPath = OutputPaths.EnsureParentOf(p.GetValue(output)!, "--out");
            if (Datasets.Load(name, p.GetValue(data), DatasetSplit.Train) is not ImageSet train || Datasets.Load(name, p.GetValue(data), DatasetSplit.Test) is not ImageSet test)
                throw new ArgumentException($"--dataset {name} has no class labels here; the classifier needs mnist or fashion-mnist.");
            var (model, accuracy) = DatasetClassifier.Train(train, test, p.GetValue(epochs), dev, p.GetValue(seed), logger);
            using (model)
            {
                model.Save(outPath);
            }
            logger.LogInformation("classifier test accuracy {Accuracy:P2}; wrote {Out}", accuracy, outPath);
            Toolkit.Reporting.Files.WriteAllTextAtomically(outPath + ".accuracy", accuracy.ToString("F4", System.Globalization.CultureInfo.InvariantCulture));
            return 0;
        });
        return command;
    }
}
