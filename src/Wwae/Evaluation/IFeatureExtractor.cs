namespace Wwae.Evaluation;

/// <summary>A network whose activations serve as image features for Frechet distance and KID.</summary>
public interface IFeatureExtractor : IDisposable
{
    /// <summary>What the features are, as reports should name them (e.g. "ResNet-18 ImageNet pool (512-d)").</summary>
    string Name { get; }
    /// <summary>Feature length.</summary>
    int Dimension { get; }
    /// <summary>
    /// Features of <paramref name="count"/> images (channel-first floats in [0, 1], <paramref name="channels"/> x
    /// <paramref name="size"/> x <paramref name="size"/> each), as count x Dimension values, row-major.
    /// </summary>
    double[] Extract(ReadOnlySpan<float> images, int count, int channels, int size, IProgress<int>? progress = null);
}
