using Toolkit.Runtime;
using Wwae.Penalties;
using Wwae.Training;

namespace Wwae.Tests;

/// <summary>The corrected and windowed estimators of the WWAE penalty, against closed forms and independent computations.</summary>
public sealed class W2EstimatorTests
{
    public W2EstimatorTests() => LibTorch.EnsureLoaded();

    static double LogGamma(double x)
    {
        // Lanczos approximation (g = 7, n = 9), accurate to about 1e-15 for x > 0.
        double[] c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
            12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
        x -= 1;
        double a = c[0], t = x + 7.5;
        for (int i = 1; i < 9; i++) a += c[i] / (x + i);
        return 0.5 * Math.Log(2 * Math.PI) + (x + 0.5) * Math.Log(t) - t + Math.Log(a);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(50)]
    public void ShrinkageInOneDimensionIsTheChiMean(int n)
    {
        // d = 1: S = chi^2_{n-1} / (n - 1), so E sqrt(S) = sqrt(2 / (n - 1)) Gamma(n / 2) / Gamma((n - 1) / 2).
        double exact = Math.Sqrt(2.0 / (n - 1)) * Math.Exp(LogGamma(n / 2.0) - LogGamma((n - 1) / 2.0));
        double estimate = W2Shrinkage.Estimate(n, 1, 20000, 7);
        // Monte Carlo standard error: sd(sqrt S) / sqrt(draws) < 0.25 / 141.
        Assert.Equal(exact, estimate, 0.006);
        Assert.True(estimate < 1);
    }

    [Fact]
    public void ShrinkageLeavesTheTrainingRandomStreamAlone()
    {
        // A resumed run computes the constant in a later epoch than an uninterrupted one: it must not shift the draws.
        manual_seed(5);
        var expected = randn(4).data<float>().ToArray();
        manual_seed(5);
        W2Shrinkage.Estimate(30, 3, 50, 99);
        Assert.Equal(expected, randn(4).data<float>().ToArray());
    }

    [Fact]
    public void CorrectedEqualsThePluginMinusItsTwoBiases()
    {
        // Independent computation of the corrected value: eigenvalues by the Denman-Beavers square root, c from W2Shrinkage.
        var random = new Random(5);
        int n = 40, d = 5;
        var data = new double[n * d];
        for (int i = 0; i < data.Length; i++) data[i] = random.NextDouble() * 2 - 0.7;
        using var scope = NewDisposeScope();
        var z = tensor(data, dtype: float64).reshape(n, d);
        using var prior = GaussianPrior.Standard(d);
        var mean = new double[d];
        for (int j = 0; j < d; j++) mean[j] = Enumerable.Range(0, n).Average(i => data[i * d + j]);
        var cov = new double[d, d];
        for (int a = 0; a < d; a++)
            for (int b = 0; b < d; b++)
                cov[a, b] = Enumerable.Range(0, n).Sum(i => (data[i * d + a] - mean[a]) * (data[i * d + b] - mean[b])) / (n - 1);
        double rootTrace = DenseMatrix.Trace(DenseMatrix.SqrtDenmanBeavers(cov));
        double trace = DenseMatrix.Trace(cov), meanSquare = mean.Sum(m => m * m);
        double c = W2Shrinkage.Factor(n, d);
        double expected = meanSquare - trace / n + trace + d - 2 * rootTrace / c;
        Assert.Equal(expected, LatentPenalties.W2SquaredCorrected(z, prior).item<double>(), 9);
        Assert.Equal(meanSquare + trace + d - 2 * rootTrace, LatentPenalties.W2Squared(z, prior).item<double>(), 9);
    }

    [Fact]
    public void CorrectedIsUnbiasedForPriorCodesWhereThePluginIsNot()
    {
        // 400 batches of n = 60 codes from N(0, I_12), drawn here (not by the study code).
        int n = 60, d = 12, draws = 400;
        using var prior = GaussianPrior.Standard(d);
        manual_seed(11);
        var batch = new double[draws];
        var corrected = new double[draws];
        for (int r = 0; r < draws; r++)
        {
            using var scope = NewDisposeScope();
            var z = randn(n, d, dtype: float64);
            batch[r] = LatentPenalties.W2Squared(z, prior).item<double>();
            corrected[r] = LatentPenalties.W2SquaredCorrected(z, prior).item<double>();
        }
        static (double Mean, double Se) Stats(double[] v)
        {
            double m = v.Average();
            return (m, Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / (v.Length - 1) / v.Length));
        }
        var (cm, cse) = Stats(corrected);
        var (bm, bse) = Stats(batch);
        Assert.True(Math.Abs(cm) < 4 * cse, $"corrected mean {cm} +- {cse}");
        // The plug-in floor is near d/n + d^2/(4n) = 0.8 (small-d/n approximation) and far from 0.
        Assert.True(bm > 20 * bse && Math.Abs(bm - 0.8) < 0.15, $"batch mean {bm} +- {bse}");
    }

    [Fact]
    public void StudyFindsTheFloorAndTheFittedScale()
    {
        var rows = W2EstimatorStudy.Run([100], [8], window: 4, draws: 300, seed: 3);
        var batch = rows.Single(r => r.Estimator == "batch");
        var corrected = rows.Single(r => r.Estimator == "corrected");
        var window = rows.Single(r => r.Estimator == "window-4");
        // The floor at d = 8, n = 100 is about 0.26; pooling 4 batches divides it by about 4.
        Assert.InRange(batch.Mean, 0.22, 0.31);
        Assert.InRange(window.Mean / batch.Mean, 0.2, 0.3);
        Assert.InRange(Math.Abs(corrected.Mean), 0, 4 * corrected.StandardDeviation / Math.Sqrt(300));
        Assert.True(batch.FittedScale < 0.99);
        Assert.Equal(1, corrected.FittedScale, 0.005);
    }

    [Fact]
    public void WindowPoolsRecentBatchesAndScalesOnlyTheGradient()
    {
        int n = 20, d = 3;
        var options = new TrainingOptions { Model = ModelKind.Wwae, Latent = d, BatchSize = n, Estimator = W2Estimator.Window, W2Window = 3 };
        using var prior = GaussianPrior.Standard(d);
        var objective = new Objective(options, prior);
        manual_seed(2);
        var batches = Enumerable.Range(0, 4).Select(_ => randn(n, d)).ToArray();
        var method = typeof(Objective).GetMethod("W2Penalty", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!;
        for (int i = 0; i < 4; i++)
        {
            var z = batches[i].detach().clone().requires_grad_(true);
            var value = (Tensor)method.Invoke(objective, [z])!;
            // Pooled: this batch and up to two before it.
            var pooled = cat([batches[i], .. Enumerable.Range(Math.Max(0, i - 2), Math.Min(i, 2)).Reverse().Select(j => batches[j])], 0);
            Assert.Equal(LatentPenalties.W2Squared(pooled, prior).item<double>(), value.item<double>(), 5);
            value.backward();
            // Gradient of the pooled value with respect to this batch, times the window length in use.
            var reference = pooled.detach().clone().requires_grad_(true);
            LatentPenalties.W2Squared(reference, prior).backward();
            int k = Math.Min(i, 2) + 1;
            var expected = reference.grad!.narrow(0, 0, n) * k;
            Assert.True(z.grad!.allclose(expected.to(float32), rtol: 1e-4, atol: 1e-6), $"batch {i}");
        }
    }

    [Fact]
    public void CosineScheduleWithWarmup()
    {
        var o = new TrainingOptions { Schedule = LearningRateSchedule.Cosine, WarmupSteps = 10 };
        Assert.Equal(0.1, o.LearningRateFactor(0, 110), 12);
        Assert.Equal(1.0, o.LearningRateFactor(10, 110), 12);
        Assert.Equal(0.5, o.LearningRateFactor(60, 110), 12);
        Assert.Equal(0.5 * (1 + Math.Cos(Math.PI * 0.25)), o.LearningRateFactor(35, 110), 12);
        Assert.Equal(1.0, new TrainingOptions().LearningRateFactor(50, 110), 12);
    }
}
