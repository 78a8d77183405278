using Toolkit.Runtime;
using Wwae.Penalties;

namespace Wwae.Tests;

public sealed class W2PenaltyTests
{
    public W2PenaltyTests() => LibTorch.EnsureLoaded();

    static double W2(double[] m1, double[,] s1, GaussianPrior prior)
    {
        using var scope = NewDisposeScope();
        return LatentPenalties.W2Squared(tensor(m1, dtype: float64), DenseMatrix.ToTensor(s1), prior).item<double>();
    }

    static double[,] Diagonal(double[] values)
    {
        var m = new double[values.Length, values.Length];
        for (int i = 0; i < values.Length; i++) m[i, i] = values[i];
        return m;
    }

    [Fact]
    public void DiagonalCovariancesAgainstTheKnownFormula()
    {
        double[] a = [0.25, 1.0, 4.0, 9.0], b = [1.0, 4.0, 1.0, 0.5];
        double[] m1 = [1, -2, 0.5, 0], m2 = [0, 1, 0.5, 3];
        using var prior = GaussianPrior.Create(m2, Diagonal(b));
        double expected = 0;
        for (int i = 0; i < 4; i++) expected += Math.Pow(m1[i] - m2[i], 2) + Math.Pow(Math.Sqrt(a[i]) - Math.Sqrt(b[i]), 2);
        Assert.Equal(expected, W2(m1, Diagonal(a), prior), 10);
    }

    [Fact]
    public void StandardPriorMatchesTheSimplifiedFormula()
    {
        // With S2 = I: ||m1||^2 + Tr S1 + d - 2 sum sqrt(eig(S1)); S1 = diag(4, 1, 0.25) gives 1 + 0 + 0.25 plus the mean.
        using var prior = GaussianPrior.Standard(3);
        Assert.Equal(1 + 0 + 0.25 + 2.0, W2([1, 1, 0], Diagonal([4, 1, 0.25]), prior), 10);
        Assert.Equal(0, W2([0, 0, 0], Diagonal([1, 1, 1]), prior), 10);
    }

    [Fact]
    public void CommutingCovariancesAgainstTheKnownFormula()
    {
        // S1 = Q diag(a) Q^T and S2 = Q diag(b) Q^T commute: W2^2 = sum (sqrt a - sqrt b)^2 (equal means).
        var random = new Random(3);
        int d = 5;
        using var q = linalg.qr(DenseMatrix.ToTensor(DenseMatrix.RandomSpd(d, random))).Q;
        double[] a = [0.1, 0.5, 2, 3, 7], b = [1, 1, 0.2, 3, 0.01];
        using var s1 = q.matmul(DenseMatrix.ToTensor(Diagonal(a))).matmul(q.T);
        using var s2 = q.matmul(DenseMatrix.ToTensor(Diagonal(b))).matmul(q.T);
        using var prior = GaussianPrior.Create(new double[d], ToArray(s2));
        double expected = a.Zip(b, (x, y) => Math.Pow(Math.Sqrt(x) - Math.Sqrt(y), 2)).Sum();
        Assert.Equal(expected, W2(new double[d], ToArray(s1), prior), 8);
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(8, 2)]
    [InlineData(16, 3)]
    public void RandomSpdMatricesAgainstDenmanBeavers(int d, int seed)
    {
        var random = new Random(seed);
        var s1 = DenseMatrix.RandomSpd(d, random);
        var s2 = DenseMatrix.RandomSpd(d, random);
        var m1 = Enumerable.Range(0, d).Select(_ => random.NextDouble()).ToArray();
        var m2 = Enumerable.Range(0, d).Select(_ => random.NextDouble()).ToArray();
        var root2 = DenseMatrix.SqrtDenmanBeavers(s2);
        var cross = DenseMatrix.SqrtDenmanBeavers(DenseMatrix.Multiply(DenseMatrix.Multiply(root2, s1), root2));
        double expected = m1.Zip(m2, (x, y) => (x - y) * (x - y)).Sum() + DenseMatrix.Trace(s1) + DenseMatrix.Trace(s2) - 2 * DenseMatrix.Trace(cross);
        using var prior = GaussianPrior.Create(m2, s2);
        Assert.Equal(expected, W2(m1, s1, prior), 8);
    }

    [Fact]
    public void CodesUseTheBatchMeanAndUnbiasedCovariance()
    {
        var random = new Random(5);
        int n = 40, d = 4;
        var z = new double[n, d];
        for (int i = 0; i < n; i++) for (int j = 0; j < d; j++) z[i, j] = random.NextDouble() * (j + 1) + j;
        var mean = new double[d];
        for (int j = 0; j < d; j++) { for (int i = 0; i < n; i++) mean[j] += z[i, j]; mean[j] /= n; }
        var cov = new double[d, d];
        for (int a = 0; a < d; a++)
            for (int b = 0; b < d; b++)
            {
                for (int i = 0; i < n; i++) cov[a, b] += (z[i, a] - mean[a]) * (z[i, b] - mean[b]);
                cov[a, b] /= n - 1;
            }
        using var prior = GaussianPrior.Standard(d);
        using var zt = DenseMatrix.ToTensor(z);
        using var w = LatentPenalties.W2Squared(zt, prior);
        Assert.Equal(W2(mean, cov, prior), w.item<double>(), 10);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GradientMatchesFiniteDifferences(bool generalPrior)
    {
        var random = new Random(11);
        int n = 12, d = 3;
        var values = new double[n, d];
        for (int i = 0; i < n; i++) for (int j = 0; j < d; j++) values[i, j] = random.NextDouble() * 2 - 1;
        using var prior = generalPrior ? GaussianPrior.Create([0.3, -0.2, 1], DenseMatrix.RandomSpd(d, random)) : GaussianPrior.Standard(d);
        using var z = DenseMatrix.ToTensor(values).requires_grad_(true);
        using var loss = LatentPenalties.W2Squared(z, prior);
        loss.backward();
        var analytic = z.grad!.data<double>().ToArray();
        const double h = 1e-6;
        for (int k = 0; k < n * d; k++)
        {
            double Eval(double delta)
            {
                var shifted = (double[,])values.Clone();
                shifted[k / d, k % d] += delta;
                using var t = DenseMatrix.ToTensor(shifted);
                using var w = LatentPenalties.W2Squared(t, prior);
                return w.item<double>();
            }
            double numeric = (Eval(h) - Eval(-h)) / (2 * h);
            Assert.True(Math.Abs(numeric - analytic[k]) < 1e-6 + 1e-5 * Math.Abs(numeric), $"dW/dz[{k}]: analytic {analytic[k]}, finite difference {numeric}");
        }
    }

    [Fact]
    public void RepeatedEigenvaluesGiveAFiniteGradient()
    {
        // Rows +e_i and -e_i: zero mean and covariance (2 / (2d - 1)) I, every eigenvalue repeated d times.
        int d = 6, n = 2 * d;
        var values = new double[n, d];
        for (int i = 0; i < d; i++) { values[2 * i, i] = 1; values[2 * i + 1, i] = -1; }
        using var prior = GaussianPrior.Standard(d);
        using var z = DenseMatrix.ToTensor(values).requires_grad_(true);
        using var loss = LatentPenalties.W2Squared(z, prior);
        loss.backward();
        var grad = z.grad!.data<double>().ToArray();
        Assert.All(grad, g => Assert.True(double.IsFinite(g)));
        // Analytic: S1 = c I, W2^2 = d (sqrt c - 1)^2, dW/dz_i = 2 (1 - c^-1/2) (z_i - mean) / (n - 1).
        double c = 2.0 / (n - 1);
        Assert.Equal(d * Math.Pow(Math.Sqrt(c) - 1, 2), loss.item<double>(), 10);
        Assert.Equal(2 * (1 - 1 / Math.Sqrt(c)) / (n - 1), grad[0], 8);
        Assert.Equal(0, grad[1], 12);
    }

    [Fact]
    public void ExactlyMatchingPriorHasZeroDistanceAndFiniteGradient()
    {
        using var prior = GaussianPrior.Standard(4);
        using var identity = eye(4, dtype: float64).requires_grad_(true);
        using var w = LatentPenalties.W2Squared(zeros(4, dtype: float64), identity, prior);
        w.backward();
        Assert.Equal(0, w.item<double>(), 12);
        Assert.All(identity.grad!.data<double>().ToArray(), g => Assert.True(Math.Abs(g) < 1e-9));
    }

    [Theory]
    [InlineData(8, 8)]
    [InlineData(4, 8)]
    public void BatchNotLargerThanLatentIsAClearError(int batch, int latent)
    {
        using var prior = GaussianPrior.Standard(latent);
        using var z = randn(batch, latent);
        var e = Assert.Throws<ArgumentException>(() => LatentPenalties.W2Squared(z, prior));
        Assert.Contains($"batch {batch} <= latent size {latent}", e.Message);
    }

    [Fact]
    public void KlAndMmdHaveTheirKnownValues()
    {
        using var scope = NewDisposeScope();
        // KL(N(1, 1) || N(0, 1)) = 0.5 per dimension.
        Assert.Equal(1.5, LatentPenalties.KlToStandardNormal(ones(7, 3), zeros(7, 3)).item<float>(), 5);
        // Unbiased MMD^2 of samples from the same distribution is near 0; a shifted one is clearly positive.
        manual_seed(1);
        double same = LatentPenalties.ImqMmd(randn(400, 4), randn(400, 4)).item<float>();
        double shifted = LatentPenalties.ImqMmd(randn(400, 4) + 1.5, randn(400, 4)).item<float>();
        Assert.InRange(same, -0.05, 0.05);
        Assert.True(shifted > 10 * Math.Abs(same) && shifted > 0.1, $"MMD of shifted samples {shifted}, of equal ones {same}");
    }

    static double[,] ToArray(Tensor t)
    {
        int n = (int)t.shape[0];
        var flat = t.data<double>().ToArray();
        var a = new double[n, n];
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) a[i, j] = flat[i * n + j];
        return a;
    }
}
