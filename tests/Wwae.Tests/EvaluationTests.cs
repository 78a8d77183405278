using Toolkit.Runtime;
using Wwae.Evaluation;

namespace Wwae.Tests;

public sealed class EvaluationTests
{
    public EvaluationTests() => LibTorch.EnsureLoaded();

    static double[] Gaussian(int n, int d, double shift, double scale, int seed)
    {
        var random = new Random(seed);
        var x = new double[n * d];
        for (int i = 0; i < x.Length; i++)
        {
            // Box-Muller
            double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
            x[i] = shift + scale * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
        }
        return x;
    }

    [Fact]
    public void FrechetDistanceOfKnownGaussians()
    {
        const int n = 20000, d = 4;
        var a = Gaussian(n, d, 0, 1, 1);
        Assert.Equal(0, FeatureDistances.Frechet(a, n, a, n, d), 9);
        // N(0, I) vs N(1, 4 I): d * 1^2 + d * (1 - 2)^2 = 8, up to sampling error.
        double fd = FeatureDistances.Frechet(a, n, Gaussian(n, d, 1, 2, 2), n, d);
        Assert.InRange(fd, 7.6, 8.4);
    }

    [Fact]
    public void KidIsNearZeroForOneDistributionAndPositiveForTwo()
    {
        const int n = 1500, d = 8;
        var same = FeatureDistances.Kid(Gaussian(n, d, 0, 1, 3), n, Gaussian(n, d, 0, 1, 4), n, d, subsets: 20, subsetSize: 500);
        var different = FeatureDistances.Kid(Gaussian(n, d, 0, 1, 3), n, Gaussian(n, d, 0.5, 1, 5), n, d, subsets: 20, subsetSize: 500);
        Assert.True(Math.Abs(same.Mean) < 3 * same.StandardDeviation + 1e-3, $"KID of one distribution {same.Mean} ± {same.StandardDeviation}");
        Assert.True(different.Mean > 10 * Math.Abs(same.Mean) && different.Mean > 0.05, $"KID {different.Mean} vs {same.Mean}");
        Assert.Equal(500, different.SubsetSize);
    }

    [Fact]
    public void ResNet18FeaturesFromTheNuGetOnnxFiles()
    {
        Assert.SkipUnless(File.Exists(Path.Combine(ResNet18Features.DefaultDirectory, "ResNet18Onnx", "ResNet18.onnx")), "the ResNet-18 ONNX files are not in the build output");
        using var net = new ResNet18Features();
        var images = new float[3 * 28 * 28];
        for (int i = 0; i < 28 * 28; i++) images[i] = (i % 28) / 27f;        // horizontal ramp
        for (int i = 0; i < 28 * 28; i++) images[784 + i] = (i / 28) / 27f;  // vertical ramp
        // the third stays black
        var f = net.Extract(images, 3, 1, 28);
        Assert.Equal(3 * 512, f.Length);
        Assert.All(f, v => Assert.True(v >= 0 && double.IsFinite(v)));  // average pool of ReLU outputs
        double Distance(int a, int b) => Math.Sqrt(Enumerable.Range(0, 512).Sum(j => Math.Pow(f[a * 512 + j] - f[b * 512 + j], 2)));
        Assert.True(Distance(0, 1) > 0.1 && Distance(0, 2) > 0.1);
        var again = net.Extract(images.AsSpan(0, 784), 1, 1, 28);
        Assert.Equal(f.AsSpan(0, 512).ToArray(), again);
    }

    [Fact]
    public void MissingResNetFilesAreExplained()
    {
        var e = Assert.Throws<FileNotFoundException>(() => new ResNet18Features("/nonexistent-folder"));
        Assert.Contains("Microsoft.ML.DnnImageFeaturizer.ResNet18", e.Message);
    }
}
