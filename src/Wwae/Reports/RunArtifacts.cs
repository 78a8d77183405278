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
    /// <summary>
    /// Loss curve: the sampled per-batch losses when the run recorded them (about 20 per epoch), else the
    /// per-epoch means. Parts are shown weighted, as they enter the loss.
    /// </summary>
    public static void WriteLossChart(string pngPath, CheckpointState state)
    {
        var o = state.Options;
        string title = $"{o.Model} on {state.Dataset} (seed {o.Seed})";
        double w = o.ReconstructionWeight, lambda = o.EffectiveLambda;
        if (state.Curve.Count >= 2)
        {
            var x = state.Curve.Select(c => (double)c.Step).ToList();
            Charts.Line(pngPath, title, "training step", "batch value",
            [
                new Series("total loss", x, state.Curve.Select(c => c.Loss).ToList()),
                new Series($"{w} x reconstruction", x, state.Curve.Select(c => c.Reconstruction * w).ToList()),
                new Series($"{lambda} x penalty", x, state.Curve.Select(c => c.Penalty * lambda).ToList()),
            ], logY: true);
            return;
        }
        var epochs = state.History.Select(r => (double)r.Epoch).ToList();
        Charts.Line(pngPath, title, "epoch", "mean over the epoch's batches",
        [
            new Series("total loss", epochs, state.History.Select(r => r.Loss).ToList()),
            new Series($"{w} x reconstruction", epochs, state.History.Select(r => r.Reconstruction * w).ToList()),
            new Series($"{lambda} x penalty", epochs, state.History.Select(r => r.Penalty * lambda).ToList()),
        ], logY: true);
    }

    /// <summary>Writes loss.png, samples.png, reconstructions.png, interpolation.png and metrics.json into <paramref name="runDirectory"/>.</summary>
    public static RunMetrics Write(string runDirectory, GaussianAutoEncoder model, CheckpointState state, IImageSource test, Device device)
    {
        var c = model.Config;
        var h = state.History;
        WriteLossChart(Path.Combine(runDirectory, "loss.png"), state);

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
        var metrics = new RunMetrics(state.Options.Model.ToString(), state.Options.Seed, state.EpochsDone, n, l2, l1, l2 / (c.Channels * c.ImageSize * c.ImageSize),
            h.Count == 0 ? 0 : h.Average(r => r.ImagesPerSecond));
        Files.WriteAllTextAtomically(Path.Combine(runDirectory, "metrics.json"), JsonSerializer.Serialize(metrics, new JsonSerializerOptions { WriteIndented = true }));
        return metrics;
    }
}
