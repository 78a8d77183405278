using Wwae.Penalties;
using static TorchSharp.torch;

namespace Wwae.Evaluation;

/// <summary>KID estimate over random subsets: mean and standard deviation of the unbiased MMD^2.</summary>
public sealed record KidEstimate(double Mean, double StandardDeviation, int Subsets, int SubsetSize);

/// <summary>Frechet distance and kernel inception distance (KID) between two feature sets, in float64.</summary>
public static class FeatureDistances
{
    /// <summary>
    /// ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2) between Gaussians fitted to the rows of
    /// <paramref name="a"/> and <paramref name="b"/> (n x d, row-major; unbiased covariances).
    /// </summary>
    public static double Frechet(double[] a, int countA, double[] b, int countB, int dimension)
    {
        using var scope = NewDisposeScope();
        var (m1, s1) = Moments(a, countA, dimension);
        var (m2, s2) = Moments(b, countB, dimension);
        var root1 = GaussianPrior.SymmetricSqrt(s1);
        var inner = root1.matmul(s2).matmul(root1);
        inner = 0.5 * (inner + inner.T);
        var rootTrace = linalg.eigvalsh(inner).clamp_min(0).sqrt().sum();
        return ((m1 - m2).square().sum() + s1.trace() + s2.trace() - 2 * rootTrace).item<double>();
    }

    static (Tensor Mean, Tensor Covariance) Moments(double[] x, int n, int d)
    {
        if (n < 2) throw new ArgumentException($"a Frechet distance needs at least 2 feature vectors, got {n}.");
        if (x.Length != (long)n * d) throw new ArgumentException($"{x.Length} values are not {n} x {d} features.");
        var t = tensor(x, dtype: float64).reshape(n, d);
        var mean = t.mean([0]);
        var c = t - mean;
        return (mean, c.T.matmul(c) / (n - 1));
    }

    /// <summary>
    /// KID (Binkowski et al. 2018): unbiased MMD^2 with the kernel k(x, y) = (x.y / d + 1)^3, averaged over
    /// <paramref name="subsets"/> random subsets of <paramref name="subsetSize"/> rows of each set (all rows when fewer).
    /// </summary>
    public static KidEstimate Kid(double[] a, int countA, double[] b, int countB, int dimension, int subsets = 100, int subsetSize = 1000, int seed = 0)
    {
        int m = Math.Min(subsetSize, Math.Min(countA, countB));
        if (m < 2) throw new ArgumentException("KID needs at least 2 feature vectors per set.");
        using var scope = NewDisposeScope();
        var ta = tensor(a, dtype: float64).reshape(countA, dimension);
        var tb = tensor(b, dtype: float64).reshape(countB, dimension);
        var random = new Random(seed);
        var values = new double[subsets];
        for (int s = 0; s < subsets; s++)
        {
            using var inner = NewDisposeScope();
            var x = ta.index_select(0, tensor(Pick(countA, m, random)));
            var y = tb.index_select(0, tensor(Pick(countB, m, random)));
            var kxx = (x.matmul(x.T) / dimension + 1).pow(3);
            var kyy = (y.matmul(y.T) / dimension + 1).pow(3);
            var kxy = (x.matmul(y.T) / dimension + 1).pow(3);
            double sxx = (kxx.sum() - kxx.diagonal().sum()).item<double>() / (m * (m - 1.0));
            double syy = (kyy.sum() - kyy.diagonal().sum()).item<double>() / (m * (m - 1.0));
            double sxy = kxy.sum().item<double>() / ((double)m * m);
            values[s] = sxx + syy - 2 * sxy;
        }
        double mean = values.Average();
        double std = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / Math.Max(1, subsets - 1));
        return new KidEstimate(mean, std, subsets, m);
    }

    static long[] Pick(int n, int m, Random random)
    {
        var all = Enumerable.Range(0, n).Select(i => (long)i).ToArray();
        random.Shuffle(all);
        return all[..m];
    }
}
