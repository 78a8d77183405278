using Toolkit.Runtime;
using Wwae.Models;
using Wwae.Penalties;
using Wwae.Training;

namespace Wwae.Tests;

/// <summary>beta-VAE and WAE-GAN: their loss terms against closed forms.</summary>
public sealed class BaselineTests
{
    public BaselineTests() => LibTorch.EnsureLoaded();

    [Fact]
    public void BetaVaeLossIsReconstructionPlusBetaTimesTheKlInElboUnits()
    {
        var options = new TrainingOptions { Model = ModelKind.BetaVae, Beta = 4, Latent = 3, Width = 4, BatchSize = 5, ReconstructionWeight = 0.05 };
        options.Validate();
        Assert.Equal(0.2, options.EffectiveLambda, 12);
        using var prior = GaussianPrior.Standard(3);
        manual_seed(1);
        using var model = new GaussianAutoEncoder(new AutoEncoderConfig(1, 28, 3, 4, false));
        var x = rand(5, 1, 28, 28);
        manual_seed(9);
        var parts = new Objective(options, prior).Compute(model, x);
        manual_seed(9);
        var code = model.Encode(x);
        var mu = code.Mean.to(float64).data<double>().ToArray();
        var logVar = code.LogVariance.to(float64).data<double>().ToArray();
        // KL(N(mu, s^2) || N(0, 1)) = (mu^2 + s^2 - 1 - log s^2) / 2 per dimension, summed, averaged over the batch.
        double kl = Enumerable.Range(0, mu.Length).Sum(i => 0.5 * (mu[i] * mu[i] + Math.Exp(logVar[i]) - 1 - logVar[i])) / 5;
        var xHat = model.Decode(code.Z);
        double recon = (xHat - x).square().sum().item<float>() / 5;
        Assert.Equal(kl, parts.Penalty.item<float>(), 4);
        Assert.Equal(recon, parts.Reconstruction.item<float>(), 2);
        Assert.Equal(0.05 * recon + 4 * 0.05 * kl, parts.Total.item<float>(), 2);
    }

    [Fact]
    public void BetaVaeNeedsBetaAndRefusesLambda()
    {
        Assert.Contains("--beta", Assert.Throws<ArgumentException>(() => new TrainingOptions { Model = ModelKind.BetaVae }.Validate()).Message);
        Assert.Throws<ArgumentException>(() => new TrainingOptions { Model = ModelKind.BetaVae, Beta = 2, Lambda = 1 }.Validate());
        Assert.Throws<ArgumentException>(() => new TrainingOptions { Model = ModelKind.Vae, Beta = 2 }.Validate());
    }

    [Fact]
    public void AdversaryTermsAtAnUndecidedAdversaryAreLogTwo()
    {
        using var adversary = new LatentAdversary(4);
        using (no_grad())
        {
            // Output layer at zero: every logit is 0, D = 1/2 everywhere.
            foreach (var (name, p) in adversary.named_parameters())
                if (name.StartsWith("body.out", StringComparison.Ordinal)) p.zero_();
        }
        var codes = randn(7, 4);
        Assert.Equal(Math.Log(2), adversary.EncoderPenalty(codes).item<float>(), 5);
        Assert.Equal(2 * Math.Log(2), adversary.Loss(randn(7, 4), codes).item<float>(), 5);
    }

    [Fact]
    public void AdversaryTermsMatchTheirDefinition()
    {
        manual_seed(4);
        using var adversary = new LatentAdversary(3);
        var prior = randn(9, 3);
        var codes = randn(9, 3) * 2 + 1;
        var lp = adversary.forward(prior).to(float64).data<double>().ToArray();
        var lq = adversary.forward(codes).to(float64).data<double>().ToArray();
        static double Sigmoid(double t) => 1 / (1 + Math.Exp(-t));
        double encoder = lq.Average(t => -Math.Log(Sigmoid(t)));
        double discriminator = lp.Average(t => -Math.Log(Sigmoid(t))) + lq.Average(t => -Math.Log(1 - Sigmoid(t)));
        Assert.Equal(encoder, adversary.EncoderPenalty(codes).item<float>(), 4);
        Assert.Equal(discriminator, adversary.Loss(prior, codes).item<float>(), 4);
    }

    [Fact]
    public void WaeGanDefaultsFollowTheWaePaper()
    {
        var o = new TrainingOptions { Model = ModelKind.WaeGan };
        Assert.Equal(1.0, o.EffectiveLambda);
        Assert.True(o.EffectiveDeterministic);
        Assert.Equal(5e-4, o.AdversaryLearningRate);
    }
}
