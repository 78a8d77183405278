using static TorchSharp.torch;

namespace Wwae.Penalties;

/// <summary>
/// A Gaussian prior N(mean, covariance) over latent codes, held in float64 with its matrix square root
/// precomputed (by eigen-decomposition) for the closed-form W2 distance. N(0, I) is the default.
/// </summary>
public sealed class GaussianPrior : IDisposable
{
    /// <summary>Mean, float64, length d.</summary>
    public Tensor Mean { get; }
    /// <summary>Covariance, float64, d x d, symmetric positive semi-definite.</summary>
    public Tensor Covariance { get; }
    /// <summary>Symmetric square root of <see cref="Covariance"/>.</summary>
    public Tensor CovarianceSqrt { get; }
    /// <summary>Trace of <see cref="Covariance"/>.</summary>
    public double CovarianceTrace { get; }
    /// <summary>True for N(0, I): the penalty then skips the matrix products.</summary>
    public bool IsStandard { get; }
    /// <summary>Latent size d.</summary>
    public int Dimension { get; }

    GaussianPrior(Tensor mean, Tensor covariance, bool isStandard)
    {
        Dimension = (int)mean.shape[0];
        Mean = mean;
        Covariance = covariance;
        IsStandard = isStandard;
        CovarianceSqrt = isStandard ? eye(Dimension, dtype: float64, device: mean.device) : SymmetricSqrt(covariance);
        CovarianceTrace = covariance.trace().item<double>();
    }

    /// <summary>N(0, I) in <paramref name="dimension"/> dimensions.</summary>
    public static GaussianPrior Standard(int dimension, Device? device = null) =>
        new(zeros(dimension, dtype: float64, device: device), eye(dimension, dtype: float64, device: device), true);

    /// <summary>N(mean, covariance); the covariance must be symmetric positive semi-definite.</summary>
    public static GaussianPrior Create(double[] mean, double[,] covariance, Device? device = null)
    {
        int d = mean.Length;
        if (covariance.GetLength(0) != d || covariance.GetLength(1) != d)
            throw new ArgumentException($"prior covariance is {covariance.GetLength(0)}x{covariance.GetLength(1)} but the mean has {d} entries.");
        var flat = new double[d * d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
            {
                if (Math.Abs(covariance[i, j] - covariance[j, i]) > 1e-9 * (1 + Math.Abs(covariance[i, j])))
                    throw new ArgumentException($"prior covariance is not symmetric at ({i}, {j}).");
                flat[i * d + j] = covariance[i, j];
            }
        var cov = tensor(flat, dtype: float64).reshape(d, d);
        double minEigen = linalg.eigvalsh(cov).min().item<double>();
        if (minEigen < -1e-9) throw new ArgumentException($"prior covariance is not positive semi-definite (smallest eigenvalue {minEigen:G3}).");
        return new GaussianPrior(tensor(mean, dtype: float64).to(device ?? CPU), cov.to(device ?? CPU), false);
    }

    /// <summary>This prior on another device.</summary>
    public GaussianPrior To(Device device) => IsStandard ? Standard(Dimension, device) : new GaussianPrior(Mean.to(device), Covariance.to(device), false);

    /// <summary>Draws <paramref name="count"/> samples (float32), for MMD and for generating images.</summary>
    public Tensor Sample(int count)
    {
        var eps = randn(count, Dimension, dtype: float64, device: Mean.device);
        return (IsStandard ? eps : Mean + eps.matmul(CovarianceSqrt)).to(float32);
    }

    /// <summary>Symmetric square root of a symmetric PSD matrix (float64) by eigen-decomposition, eigenvalues clamped at 0.</summary>
    public static Tensor SymmetricSqrt(Tensor matrix)
    {
        var sym = 0.5 * (matrix + matrix.transpose(0, 1));
        var (values, vectors) = linalg.eigh(sym);
        return vectors.matmul(diag(values.clamp_min(0).sqrt())).matmul(vectors.transpose(0, 1));
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Mean.Dispose();
        Covariance.Dispose();
        CovarianceSqrt.Dispose();
    }
}
