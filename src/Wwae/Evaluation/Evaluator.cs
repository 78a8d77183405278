using TorchSharp;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Toolkit.Data.Images;
using Wwae.Reports;
using Wwae.Training;
using static TorchSharp.torch;

namespace Wwae.Evaluation;

/// <summary>One FD/KID figure, with what it was measured on.</summary>
public sealed record FeatureScore(string Subject, string Model, int Seed, string Features, int FeatureDimension,
    int Samples, int ReferenceSamples, string Reference, double FrechetDistance, double KidMean, double KidStd, int KidSubsetSize);

/// <summary>
/// Scores generated images against real ones: FD and KID between features of <see cref="Samples"/> generated
/// images and of the first <see cref="Samples"/> test images; and the real-vs-real baseline (the first
/// <see cref="Samples"/> training images against the same test images), which is the floor such numbers can reach.
/// </summary>
public sealed class Evaluator(IFeatureExtractor features, IImageSource test, IImageSource train, int samples, Device device, ILogger? logger = null)
{
    readonly ILogger log = logger ?? NullLogger.Instance;
    double[]? reference;

    /// <summary>Generated and real images per comparison.</summary>
    public int Samples { get; } = Math.Min(samples, Math.Min(test.Count, train.Count));

    double[] Reference(IProgress<int>? progress) => reference ??= features.Extract(Read(test, Samples), Samples, test.Channels, test.Height, progress);

    static float[] Read(IImageSource source, int count)
    {
        var buffer = new float[(long)count * source.Channels * source.Height * source.Width];
        int per = source.Channels * source.Height * source.Width;
        for (int start = 0; start < count; start += 1000)
        {
            int n = Math.Min(1000, count - start);
            source.ReadBatch(Enumerable.Range(start, n).ToArray(), buffer.AsSpan(start * per, n * per));
        }
        return buffer;
    }

    /// <summary>The real-vs-real baseline: training images against test images.</summary>
    public FeatureScore RealBaseline(IProgress<int>? progress = null)
    {
        var r = Reference(progress);
        var f = features.Extract(Read(train, Samples), Samples, train.Channels, train.Height, progress);
        return Score("real train images", "real", -1, f, r);
    }

    /// <summary>Scores the model in <paramref name="runDirectory"/> (its latest checkpoint) on <see cref="Samples"/> prior samples.</summary>
    public FeatureScore ScoreRun(string runDirectory, IProgress<int>? progress = null)
    {
        var r = Reference(progress);
        var (model, state) = Checkpoint.LoadModel(runDirectory);
        using (model)
        {
            model.to(device);
            var c = model.Config;
            if (c.Channels != test.Channels || c.ImageSize != test.Height)
                throw new ArgumentException($"run '{runDirectory}' makes {c.Channels}x{c.ImageSize}x{c.ImageSize} images but the data set has {test.Channels}x{test.Height}x{test.Width}.");
            // Sample seed distinct from the training seed's own grids.
            var images = ModelImages.Sample(model, Samples, device, 1_000_000 + state.Options.Seed);
            var f = features.Extract(images, Samples, c.Channels, c.ImageSize, progress);
            return Score(runDirectory, state.Options.Model.ToString(), state.Options.Seed, f, r);
        }
    }

    FeatureScore Score(string subject, string model, int seed, double[] generated, double[] real)
    {
        double fd = FeatureDistances.Frechet(generated, Samples, real, Samples, features.Dimension);
        var kid = FeatureDistances.Kid(generated, Samples, real, Samples, features.Dimension);
        log.LogInformation("{Subject}: FD {Fd:F3}, KID {Kid:F5} ± {Std:F5} ({Features}, {N} samples)", subject, fd, kid.Mean, kid.StandardDeviation, features.Name, Samples);
        return new FeatureScore(subject, model, seed, features.Name, features.Dimension, Samples, Samples, "test split", fd, kid.Mean, kid.StandardDeviation, kid.SubsetSize);
    }
}
