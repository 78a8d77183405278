using System.CommandLine;
using System.Text.Json;
using Toolkit.Cli;
using Toolkit.Reporting;
using Toolkit.Runtime;
using Wwae.Training;

namespace Wwae.Cli;

/// <summary><c>wwae bench</c>: training throughput, comparable with bench/wwae/throughput.py.</summary>
static class BenchCommand
{
    public static Command Create()
    {
        var args = new TrainArguments();
        var models = new Option<string>("--models") { Description = "Comma-separated models.", DefaultValueFactory = _ => "wwae,vae,wae-mmd,wae-gan" };
        var steps = new Option<int>("--steps") { Description = "Timed steps per model.", DefaultValueFactory = _ => 300 };
        var size = new Option<int>("--image-size") { Description = "28 (1 channel) or 64 (3 channels).", DefaultValueFactory = _ => 28 };
        var output = new Option<string>("--out") { Description = "JSON file for the results.", DefaultValueFactory = _ => Path.Combine(OutputPaths.Root, "bench.json") };
        var device = CommonOptions.Device();
        var command = new Command("bench", "Measure training throughput (images/s) of the models on random data.");
        foreach (var o in args.All.Where(o => o != args.ImageSize)) command.Options.Add(o);
        foreach (var o in new Option[] { models, steps, size, output, device }) command.Options.Add(o);
        command.SetAction(p =>
        {
            var dev = ComputeDevice.Resolve(p.GetValue(device));
            int imageSize = p.GetValue(size);
            var results = new List<ThroughputResult>();
            foreach (var kind in p.GetValue(models)!.Split(',').Select(TrainArguments.ParseModel))
            {
                var r = ThroughputBenchmark.Run(args.Build(p, kind, 0, imageSize), imageSize == 64 ? 3 : 1, imageSize, dev, p.GetValue(steps));
                results.Add(r);
                Console.WriteLine($"torchsharp {TrainArguments.ModelName(kind)}: {r.ImagesPerSecond:F0} images/s ({r.Steps} steps of {r.BatchSize} in {r.Seconds:F2} s on {r.Device})");
            }
            string path = OutputPaths.EnsureParentOf(p.GetValue(output)!, "--out");
            Files.WriteAllTextAtomically(path, JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        });
        return command;
    }
}
