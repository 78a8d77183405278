using Wwae.Models;
using Wwae.Penalties;
using static TorchSharp.torch;

namespace Wwae.Training;

/// <summary>One batch's loss and its parts (scalars, float32).</summary>
public sealed record LossParts(Tensor Total, Tensor Reconstruction, Tensor Penalty);

/// <summary>Loss = w * c(x, G(z)) + lambda * penalty(codes), for the three models.</summary>
public sealed class Objective(TrainingOptions options, GaussianPrior prior)
{
    /// <summary>Pixel cost summed over pixels, averaged over the batch.</summary>
    public static Tensor Reconstruction(Tensor x, Tensor reconstruction, ReconstructionCost cost)
    {
        var diff = reconstruction - x;
        var perImage = (cost == ReconstructionCost.L2 ? diff.square() : diff.abs()).flatten(1).sum(1);
        return perImage.mean();
    }

    /// <summary>Runs the model on <paramref name="x"/> and returns the loss parts.</summary>
    public LossParts Compute(GaussianAutoEncoder model, Tensor x)
    {
        var code = model.Encode(x);
        var xHat = model.Decode(code.Z);
        var recon = Reconstruction(x, xHat, options.Cost);
        var penalty = options.Model switch
        {
            ModelKind.Wwae => LatentPenalties.W2Squared(code.Z, prior).to(float32),
            ModelKind.Vae => LatentPenalties.KlToStandardNormal(code.Mean, code.LogVariance),
            ModelKind.WaeMmd => LatentPenalties.ImqMmd(code.Z, prior.Sample((int)x.shape[0]).to(x.device)),
            _ => throw new ArgumentOutOfRangeException(nameof(options)),
        };
        var total = options.ReconstructionWeight * recon + options.EffectiveLambda * penalty;
        return new LossParts(total, recon, penalty);
    }
}
