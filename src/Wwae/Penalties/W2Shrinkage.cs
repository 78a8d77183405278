using System.Collections.Concurrent;
using static TorchSharp.torch;

namespace Wwae.Penalties;

/// <summary>
/// The expected shrinkage of the square-root term of the batch W2 penalty: c(n, d) = E[sum_i sqrt(eig_i(S_hat))] / d,
/// where S_hat is the unbiased covariance of n independent N(0, I_d) vectors. Eigenvalues of a sample covariance
/// spread around 1 (Marchenko-Pastur), so by Jensen c &lt; 1 and the plug-in penalty has a positive floor.
/// Estimated by Monte Carlo (float64, own generator, so the training random stream is untouched) and cached.
/// </summary>
public static class W2Shrinkage
{
    static readonly ConcurrentDictionary<(long, long), double> cache = new();

    /// <summary>Draws used per (n, d): the standard error of c is below 1e-4 for n &gt;= 50, d &gt;= 8.</summary>
    public const int Draws = 2000;

    /// <summary>c(n, d) for the batch size <paramref name="n"/> and latent size <paramref name="d"/> (n &gt; d).</summary>
    public static double Factor(long n, long d) => cache.GetOrAdd((n, d), key => Estimate(key.Item1, key.Item2, Draws, 12345));

    /// <summary>Monte Carlo estimate of c(n, d) from <paramref name="draws"/> batches.</summary>
    public static double Estimate(long n, long d, int draws, long seed)
    {
        if (n <= d) throw new ArgumentException($"the shrinkage needs n > d (n {n}, d {d}).");
        using var scope = NewDisposeScope();
        // The process-wide generator is left as it was, so training draws the same numbers whenever this runs.
        var saved = get_rng_state();
        try
        {
            return Simulate(n, d, draws, seed);
        }
        finally
        {
            set_rng_state(saved);
        }
    }

    static double Simulate(long n, long d, int draws, long seed)
    {
        using var generator = new Generator((ulong)seed);
        double sum = 0;
        const int chunk = 250;
        for (int done = 0; done < draws; done += chunk)
        {
            int r = Math.Min(chunk, draws - done);
            var z = randn([r, n, d], dtype: float64, generator: generator);
            var centred = z - z.mean([1], keepdim: true);
            var cov = centred.transpose(1, 2).matmul(centred) / (n - 1);
            sum += linalg.eigvalsh(cov).clamp_min(0).sqrt().sum().item<double>();
        }
        return sum / ((double)draws * d);
    }
}
