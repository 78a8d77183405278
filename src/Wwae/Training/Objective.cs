using Wwae.Models;
using Wwae.Penalties;
using static TorchSharp.torch;

namespace Wwae.Training;

/// <summary>One batch's loss and its parts (scalars, float32), and the codes the batch produced (for the WAE-GAN adversary).</summary>
public sealed record LossParts(Tensor Total, Tensor Reconstruction, Tensor Penalty, Tensor Codes);

/// <summary>
/// Loss = w * c(x, G(z)) + lambda * penalty(codes), for the five models. Holds what the penalty needs across
/// batches: the recent codes of the windowed W2 estimator and the WAE-GAN adversary.
/// </summary>
public sealed class Objective(TrainingOptions options, GaussianPrior prior, LatentAdversary? adversary = null)
{
    readonly Queue<Tensor> window = new();

    /// <summary>Pixel cost summed over pixels, averaged over the batch.</summary>
    public static Tensor Reconstruction(Tensor x, Tensor reconstruction, ReconstructionCost cost)
    {
        var diff = reconstruction - x;
        var perImage = (cost == ReconstructionCost.L2 ? diff.square() : diff.abs()).flatten(1).sum(1);
        return perImage.mean();
    }

    /// <summary>Forgets the codes of earlier batches (the windowed estimator starts afresh each epoch, so a resumed run equals an uninterrupted one).</summary>
    public void StartEpoch()
    {
        while (window.Count > 0) window.Dequeue().Dispose();
    }

    /// <summary>Runs the model on <paramref name="x"/> and returns the loss parts.</summary>
    public LossParts Compute(GaussianAutoEncoder model, Tensor x)
    {
        var code = model.Encode(x);
        var xHat = model.Decode(code.Z);
        var recon = Reconstruction(x, xHat, options.Cost);
        var penalty = options.Model switch
        {
            ModelKind.Wwae => W2Penalty(code.Z).to(float32),
            ModelKind.Vae or ModelKind.BetaVae => LatentPenalties.KlToStandardNormal(code.Mean, code.LogVariance),
            ModelKind.WaeMmd => LatentPenalties.ImqMmd(code.Z, prior.Sample((int)x.shape[0]).to(x.device)),
            ModelKind.WaeGan => (adversary ?? throw new InvalidOperationException("WAE-GAN needs its latent adversary")).EncoderPenalty(code.Z),
            _ => throw new ArgumentOutOfRangeException(nameof(options)),
        };
        var total = options.ReconstructionWeight * recon + options.EffectiveLambda * penalty;
        return new LossParts(total, recon, penalty, code.Z);
    }

    Tensor W2Penalty(Tensor z)
    {
        switch (options.Estimator)
        {
            case W2Estimator.Batch: return LatentPenalties.W2Squared(z, prior);
            case W2Estimator.Corrected: return LatentPenalties.W2SquaredCorrected(z, prior);
            case W2Estimator.Window:
                var pooled = window.Count == 0 ? z : cat([z, .. window], 0);
                var value = LatentPenalties.W2Squared(pooled, prior);
                var current = z.detach().clone();
                current.DetachFromDisposeScope();
                window.Enqueue(current);
                while (window.Count > options.W2Window - 1) window.Dequeue().Dispose();
                // The pooled moments move by 1/k of what the current codes move: scale the gradient (not the value) by k.
                double k = pooled.shape[0] / (double)z.shape[0];
                return k == 1 ? value : value.detach() + k * (value - value.detach());
            default: throw new ArgumentOutOfRangeException(nameof(options));
        }
    }
}
