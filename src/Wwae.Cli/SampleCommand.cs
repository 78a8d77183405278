using System.CommandLine;
using TorchSharp;
using Toolkit.Cli;
using Toolkit.Reporting;
using Toolkit.Runtime;
using Wwae.Reports;
using Wwae.Training;

namespace Wwae.Cli;

/// <summary><c>wwae sample</c>: a grid of images decoded from prior samples.</summary>
static class SampleCommand
{
    public static Command Create()
    {
        var run = new Option<string>("--run") { Description = "Run folder (from wwae train).", Required = true };
        var count = new Option<int>("--count") { Description = "Number of images.", DefaultValueFactory = _ => 64 };
        var columns = new Option<int>("--columns") { Description = "Images per row.", DefaultValueFactory = _ => 8 };
        var output = new Option<string?>("--out") { Description = "PNG file to write (default runs/wwae/samples-RUN.png)." };
        var device = CommonOptions.Device();
        var seed = CommonOptions.Seed();
        var command = new Command("sample", "Decode codes drawn from the prior N(0, I) into a PNG grid.");
        foreach (var o in new Option[] { run, count, columns, output, device, seed }) command.Options.Add(o);
        command.SetAction(p =>
        {
            var dev = ComputeDevice.Resolve(p.GetValue(device));
            string outPath = OutputPaths.EnsureParentOf(p.GetValue(output) ?? Path.Combine(OutputPaths.Root, $"samples-{Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(p.GetValue(run)!)))}.png"), "--out");
            var (model, _) = Checkpoint.LoadModel(p.GetValue(run)!);
            using (model)
            {
                model.to(dev);
                int n = p.GetValue(count);
                if (n < 1) throw new ArgumentException("--count must be at least 1.");
                var c = model.Config;
                ImageGrid.Save(outPath, ModelImages.Sample(model, n, dev, p.GetValue(seed)), n, c.Channels, c.ImageSize, c.ImageSize, p.GetValue(columns));
            }
            Console.WriteLine($"wrote {outPath}");
            return 0;
        });
        return command;
    }
}
