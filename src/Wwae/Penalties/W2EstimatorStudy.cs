using static TorchSharp.torch;

namespace Wwae.Penalties;

/// <summary>How one estimator of the WWAE penalty behaves for codes drawn exactly from the prior N(0, I).</summary>
/// <param name="Estimator">batch, corrected, or window-K (moments over K batches of n).</param>
/// <param name="N">Batch size.</param>
/// <param name="D">Latent size.</param>
/// <param name="Mean">Mean of the estimate (the true W2^2 is 0).</param>
/// <param name="StandardDeviation">Standard deviation of the estimate over batches.</param>
/// <param name="FittedScale">The code scale s that minimises the expected estimate for codes s z, z ~ N(0, I) (1 is right).</param>
/// <param name="Approximation">d/n + d^2/(4n), the small-d/n approximation of the plug-in floor (for the batch rows).</param>
public sealed record W2EstimatorRow(string Estimator, int N, int D, double Mean, double StandardDeviation, double FittedScale, double Approximation);

/// <summary>
/// Simulates the WWAE penalty estimators on codes drawn from the prior: for each (n, d), <c>draws</c> batches of
/// n codes, float64. For codes s z the estimate is s^2 A - 2 s B + d with A = Tr S + ||m||^2 (corrected:
/// Tr S (1 - 1/n) + ||m||^2) and B = sum sqrt eig(S) (corrected: divided by c(n, d)), so the fitted scale is E[B] / E[A].
/// The window estimator of K batches has the statistics of one batch of K n codes drawn from the same distribution
/// (while the encoder changes little over K steps).
/// </summary>
public static class W2EstimatorStudy
{
    /// <summary>Runs the study over every (n, d) with n &gt; d.</summary>
    public static List<W2EstimatorRow> Run(int[] batchSizes, int[] latentSizes, int window, int draws, long seed, IProgress<string>? progress = null)
    {
        if (draws < 2) throw new ArgumentException("the study needs at least 2 draws.");
        if (window < 2) throw new ArgumentException("the window must hold at least 2 batches.");
        var rows = new List<W2EstimatorRow>();
        using var generator = new Generator((ulong)seed);
        foreach (int d in latentSizes)
            foreach (int n in batchSizes)
            {
                if (n <= d) continue;
                rows.Add(Simulate("batch", n, d, n, draws, generator, corrected: false));
                rows.Add(Simulate("corrected", n, d, n, draws, generator, corrected: true));
                rows.Add(Simulate($"window-{window}", n, d, n * window, draws, generator, corrected: false));
                progress?.Report($"n {n}, d {d}");
            }
        return rows;
    }

    static W2EstimatorRow Simulate(string name, int n, int d, int samples, int draws, Generator generator, bool corrected)
    {
        using var scope = NewDisposeScope();
        var a = new double[draws];
        var b = new double[draws];
        double c = corrected ? W2Shrinkage.Factor(samples, d) : 1.0;
        const int chunk = 100;
        for (int done = 0; done < draws; done += chunk)
        {
            using var inner = NewDisposeScope();
            int r = Math.Min(chunk, draws - done);
            var z = randn([r, samples, d], dtype: float64, generator: generator);
            var mean = z.mean([1], keepdim: true);
            var centred = z - mean;
            var cov = centred.transpose(1, 2).matmul(centred) / (samples - 1);
            var trace = cov.diagonal(0, 1, 2).sum(1);
            var meanSquare = mean.square().sum([1, 2]);
            var roots = linalg.eigvalsh(cov).clamp_min(LatentPenalties.EigenvalueFloor).sqrt().sum(1);
            var aPart = corrected ? trace * (1 - 1.0 / samples) + meanSquare : trace + meanSquare;
            aPart.data<double>().ToArray().CopyTo(a, done);
            (roots / c).data<double>().ToArray().CopyTo(b, done);
        }
        var values = a.Zip(b, (x, y) => x + d - 2 * y).ToArray();
        double m = values.Average();
        double sd = Math.Sqrt(values.Sum(v => (v - m) * (v - m)) / (draws - 1));
        return new W2EstimatorRow(name, n, d, m, sd, b.Average() / a.Average(), d / (double)n + d * (double)d / (4.0 * n));
    }
}
