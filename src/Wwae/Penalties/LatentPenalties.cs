using static TorchSharp.torch;

namespace Wwae.Penalties;

/// <summary>The latent penalties of WWAE and of its baselines.</summary>
public static class LatentPenalties
{
    /// <summary>Eigenvalues below this are clamped before the square root (keeps the gradient finite).</summary>
    public const double EigenvalueFloor = 1e-6;

    /// <summary>
    /// Closed-form squared 2-Wasserstein distance between the Gaussian fitted to the codes
    /// <paramref name="z"/> (N x d: batch mean m1 and unbiased covariance S1) and the prior N(m2, S2):
    /// ||m1 - m2||^2 + Tr S1 + Tr S2 - 2 Tr (S2^1/2 S1 S2^1/2)^1/2.
    /// The last trace is the sum of square roots of eigenvalues of a symmetrised float64 matrix, so the loss
    /// depends on eigenvalues only: its gradient is V diag(1 / (2 sqrt(lambda))) V^T, well defined when
    /// eigenvalues repeat (no eigenvector gradient, which divides by eigenvalue gaps). Returns a float64 scalar.
    /// </summary>
    public static Tensor W2Squared(Tensor z, GaussianPrior prior)
    {
        var (m1, s1, _) = Moments(z, prior);
        return W2Squared(m1, s1, prior);
    }

    /// <summary>
    /// The bias-corrected batch estimate of W2^2 (see <see cref="Wwae.Training.W2Estimator.Corrected"/>):
    /// ||m1 - m2||^2 - Tr(S1) / n + Tr S1 + Tr S2 - 2 Tr (S2^1/2 S1 S2^1/2)^1/2 / c(n, d), with c from <see cref="W2Shrinkage"/>.
    /// For codes drawn from N(0, I) its expectation is 0 and, over rescaled codes s z, it is smallest in expectation at s = 1.
    /// Float64 scalar; can be negative.
    /// </summary>
    public static Tensor W2SquaredCorrected(Tensor z, GaussianPrior prior)
    {
        var (m1, s1, n) = Moments(z, prior);
        double c = W2Shrinkage.Factor(n, prior.Dimension);
        return W2Squared(m1, s1, prior, 1.0 / c) - s1.trace() / n;
    }

    static (Tensor Mean, Tensor Covariance, long N) Moments(Tensor z, GaussianPrior prior)
    {
        if (z.dim() != 2) throw new ArgumentException($"codes must be a matrix (batch x latent), got shape [{string.Join(", ", z.shape)}].");
        long n = z.shape[0], d = z.shape[1];
        if (d != prior.Dimension) throw new ArgumentException($"codes have {d} dimensions but the prior has {prior.Dimension}.");
        if (n <= d)
            throw new ArgumentException(
                $"the W2 penalty needs a batch larger than the latent size: batch {n} <= latent size {d}, so the batch covariance is singular " +
                "and its matrix square root has no usable gradient. Increase --batch-size or reduce --latent.");
        var z64 = z.to(float64);
        var m1 = z64.mean([0]);
        var centred = z64 - m1;
        return (m1, centred.transpose(0, 1).matmul(centred) / (n - 1), n);
    }

    /// <summary>The same distance from the moments: W2^2(N(m1, S1), prior), float64, eigenvalue-based as above.</summary>
    public static Tensor W2Squared(Tensor m1, Tensor s1, GaussianPrior prior) => W2Squared(m1, s1, prior, 1.0);

    static Tensor W2Squared(Tensor m1, Tensor s1, GaussianPrior prior, double rootScale)
    {
        m1 = m1.to(float64);
        s1 = s1.to(float64);
        // eigvalsh fails (CPU) or may not return (CUDA) on a matrix with NaN; a diverged run must be reported as such.
        if (!s1.isfinite().all().item<bool>() || !m1.isfinite().all().item<bool>())
            throw new NonFiniteCodesException("the latent codes hold NaN or infinite values");
        var inner = prior.IsStandard ? s1 : prior.CovarianceSqrt.matmul(s1).matmul(prior.CovarianceSqrt);
        inner = 0.5 * (inner + inner.transpose(0, 1));
        var rootTrace = linalg.eigvalsh(inner).clamp_min(EigenvalueFloor).sqrt().sum();
        var meanTerm = (m1 - prior.Mean).square().sum();
        return meanTerm + s1.trace() + prior.CovarianceTrace - 2 * rootScale * rootTrace;
    }

    /// <summary>KL(N(mean, diag exp(logVar)) || N(0, I)), summed over latent dimensions, averaged over the batch (the VAE term).</summary>
    public static Tensor KlToStandardNormal(Tensor mean, Tensor logVariance) =>
        (0.5 * (mean.square() + logVariance.exp() - 1 - logVariance)).sum(1).mean();

    /// <summary>Scales of the IMQ kernel relative to C = 2 d sigma^2, as in the WAE reference code.</summary>
    static readonly double[] ImqScales = [0.1, 0.2, 0.5, 1, 2, 5, 10];

    /// <summary>
    /// Unbiased MMD^2 between codes <paramref name="z"/> and prior samples <paramref name="priorSamples"/> with
    /// the inverse multiquadratic kernel k(x, y) = C / (C + ||x - y||^2), summed over C in {0.1 .. 10} x 2 d sigma^2
    /// (WAE-MMD, Tolstikhin et al. 2018).
    /// </summary>
    public static Tensor ImqMmd(Tensor z, Tensor priorSamples, double priorVariance = 1.0)
    {
        long n = z.shape[0], d = z.shape[1];
        if (n < 2) throw new ArgumentException("MMD needs a batch of at least 2 codes.");
        if (!priorSamples.shape.SequenceEqual(z.shape)) throw new ArgumentException("prior samples must have the shape of the codes.");
        var dqq = SquaredDistances(z, z);
        var dpp = SquaredDistances(priorSamples, priorSamples);
        var dpq = SquaredDistances(z, priorSamples);
        var offDiagonal = 1 - eye(n, dtype: z.dtype, device: z.device);
        double baseC = 2.0 * d * priorVariance;
        Tensor? total = null;
        foreach (double scale in ImqScales)
        {
            double c = baseC * scale;
            var kqq = (c / (c + dqq) * offDiagonal).sum() / (n * (n - 1));
            var kpp = (c / (c + dpp) * offDiagonal).sum() / (n * (n - 1));
            var kpq = (c / (c + dpq)).sum() / (n * n);
            var term = kqq + kpp - 2 * kpq;
            total = total is null ? term : total + term;
        }
        return total!;
    }

    static Tensor SquaredDistances(Tensor a, Tensor b)
    {
        var aa = a.square().sum(1, keepdim: true);
        var bb = b.square().sum(1, keepdim: true).transpose(0, 1);
        return (aa + bb - 2 * a.matmul(b.transpose(0, 1))).clamp_min(0);
    }
}
