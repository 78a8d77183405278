using System.Text.Json;
using Toolkit.Data.Images;
using Toolkit.Reporting;
using Wwae.Models;
using Wwae.Training;
using static TorchSharp.torch;

namespace Wwae.Reports;

/// <summary>Test-set figures of a trained run (written to metrics.json).</summary>
public sealed record RunMetrics(string Model, int Seed, int Epochs, int TestImages, double TestSquaredL2PerImage, double TestL1PerImage,
    double TestMsePerPixel, double MeanTrainImagesPerSecond);

/// <summary>Writes what a person looks at after training: loss curves, samples, reconstructions, interpolations, metrics.</summary>
public static class RunArtifacts
{
    /// <summary>Writes loss.png, samples.png, reconstructions.png, interpolation.png and metrics.json into <paramref name="runDirectory"/>.</summary>
    public static RunMetrics Write(string runDirectory, GaussianAutoEncoder model, CheckpointState state, IImageSource test, Device device)
    {
        var c = model.Config;
        var h = state.History;
        var epochs = h.Select(r => (double)r.Epoch).ToList();
        string name = state.Options.Model.ToString();
        Charts.Line(Path.Combine(runDirectory, "loss.png"), $"{name} on {state.Dataset} (seed {state.Options.Seed})", "epoch", "value per batch",
        [
            new Series("total loss", epochs, h.Select(r => r.Loss).ToList()),
            new Series($"{state.Options.ReconstructionWeight} x reconstruction", epochs, h.Select(r => r.Reconstruction * state.Options.ReconstructionWeight).ToList()),
            new Series($"{state.Options.EffectiveLambda} x penalty", epochs, h.Select(r => r.Penalty * state.Options.EffectiveLambda).ToList()),
        ], logY: true);

        ImageGrid.Save(Path.Combine(runDirectory, "samples.png"), ModelImages.Sample(model, 100, device, state.Options.Seed), 100, c.Channels, c.ImageSize, c.ImageSize, 10);

        int pairs = Math.Min(10, test.Count);
        var indices = Enumerable.Range(0, pairs).ToArray();
        var originals = new float[pairs * c.Channels * c.ImageSize * c.ImageSize];
        test.ReadBatch(indices, originals);
        var recon = ModelImages.Reconstruct(model, test, indices, device);
        ImageGrid.Save(Path.Combine(runDirectory, "reconstructions.png"), [.. originals, .. recon], 2 * pairs, c.Channels, c.ImageSize, c.ImageSize, pairs);

        if (test.Count >= 16)
        {
            var interpolation = ModelImages.Interpolate(model, test, Enumerable.Range(10, 6).ToArray(), 10, device);
            ImageGrid.Save(Path.Combine(runDirectory, "interpolation.png"), interpolation, 30, c.Channels, c.ImageSize, c.ImageSize, 10);
        }

        var (l2, l1, n) = ModelImages.ReconstructionError(model, test, device);
        var metrics = new RunMetrics(name, state.Options.Seed, state.EpochsDone, n, l2, l1, l2 / (c.Channels * c.ImageSize * c.ImageSize),
            h.Count == 0 ? 0 : h.Average(r => r.ImagesPerSecond));
        Files.WriteAllTextAtomically(Path.Combine(runDirectory, "metrics.json"), JsonSerializer.Serialize(metrics, new JsonSerializerOptions { WriteIndented = true }));
        return metrics;
    }
}
