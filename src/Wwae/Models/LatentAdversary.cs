using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Wwae.Models;

/// <summary>
/// WAE-GAN's latent discriminator D(z): an MLP with 4 hidden layers of 512 ReLU units (the WAE paper's MNIST
/// adversary) returning one logit per code; D = sigmoid(logit) is the probability that z came from the prior.
/// </summary>
public sealed class LatentAdversary : Module<Tensor, Tensor>
{
    /// <summary>Hidden units per layer.</summary>
    public const int Hidden = 512;

    readonly Sequential body;

    /// <summary>Builds the adversary for codes of size <paramref name="latent"/>.</summary>
    public LatentAdversary(int latent) : base("LatentAdversary")
    {
        if (latent < 1) throw new ArgumentException($"--latent must be at least 1 (got {latent}).");
        body = Sequential(
            ("fc0", Linear(latent, Hidden)), ("relu0", ReLU()),
            ("fc1", Linear(Hidden, Hidden)), ("relu1", ReLU()),
            ("fc2", Linear(Hidden, Hidden)), ("relu2", ReLU()),
            ("fc3", Linear(Hidden, Hidden)), ("relu3", ReLU()),
            ("out", Linear(Hidden, 1)));
        RegisterComponents();
    }

    /// <summary>Logits (N) for codes (N x latent).</summary>
    public override Tensor forward(Tensor z) => body.forward(z).squeeze(1);

    /// <summary>The encoder's adversarial term: mean over codes of -log D(z) = softplus(-logit).</summary>
    public Tensor EncoderPenalty(Tensor codes) => functional.softplus(-forward(codes)).mean();

    /// <summary>The adversary's loss: -mean log D(prior samples) - mean log(1 - D(codes)) (codes detached by the caller).</summary>
    public Tensor Loss(Tensor priorSamples, Tensor codes) =>
        functional.softplus(-forward(priorSamples)).mean() + functional.softplus(forward(codes)).mean();
}
