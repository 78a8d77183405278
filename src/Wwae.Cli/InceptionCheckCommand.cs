using System.CommandLine;
using System.Text.Json;
using TorchSharp;
using Toolkit.Cli;
using Toolkit.Reporting;
using Toolkit.Runtime;
using Toolkit.Runtime.Safetensors;
using Wwae.Evaluation;
using static TorchSharp.torch;

namespace Wwae.Cli;

/// <summary>
/// <c>wwae inception-check</c>: runs the Inception-v3 port on reference images and compares its pool3 features with
/// those a PyTorch build of the same network produced (bench/wwae/inception_reference.py), on every device given.
/// </summary>
static class InceptionCheckCommand
{
    public static Command Create()
    {
        var weights = new Option<string>("--weights") { Description = "Inception weights (safetensors).", Required = true };
        var check = new Option<string>("--check") { Description = "safetensors with 'images' (N x 3 x H x W) and reference 'features' (N x 2048).", Required = true };
        var devices = new Option<string>("--devices") { Description = "Comma-separated devices to test.", DefaultValueFactory = _ => "cpu" };
        var output = new Option<string?>("--out") { Description = "JSON file for the comparison." };
        var command = new Command("inception-check", "Compare the Inception-v3 port with reference features computed by PyTorch.");
        foreach (var o in new Option[] { weights, check, devices, output }) command.Options.Add(o);
        command.SetAction(p =>
        {
            LibTorch.EnsureLoaded();
            using var file = SafetensorsFile.Open(p.GetValue(check)!);
            using var images = file.Load("images", dtype: ScalarType.Float32);
            using var expected = file.Load("features", dtype: ScalarType.Float64);
            var results = new List<object>();
            foreach (var spec in p.GetValue(devices)!.Split(','))
            {
                var device = ComputeDevice.Resolve(spec);
                using var features = InceptionV3Features.Load(p.GetValue(weights)!, device);
                int n = (int)images.shape[0], size = (int)images.shape[2];
                var got = features.Extract(images.contiguous().data<float>().ToArray(), n, 3, size);
                using var actual = tensor(got).reshape(n, 2048);
                double maxAbs = (actual - expected).abs().max().item<double>();
                double maxRef = expected.abs().max().item<double>();
                double relative = ((actual - expected).norm() / expected.norm()).item<double>();
                Console.WriteLine($"inception port on {device}: max |diff| {maxAbs:G3} (max |feature| {maxRef:G3}), relative L2 error {relative:G3} over {n} images");
                results.Add(new { Device = device.ToString(), Images = n, MaxAbsDiff = maxAbs, MaxAbsFeature = maxRef, RelativeL2Error = relative });
            }
            if (p.GetValue(output) is { } path) Files.WriteAllTextAtomically(path, JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        });
        return command;
    }
}
