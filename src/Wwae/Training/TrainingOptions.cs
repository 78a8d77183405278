using System.Text.Json.Serialization;

namespace Wwae.Training;

/// <summary>Which objective trains the auto-encoder.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ModelKind>))]
public enum ModelKind
{
    /// <summary>WWAE: reconstruction + lambda * closed-form W2^2(batch Gaussian, prior).</summary>
    Wwae,
    /// <summary>VAE: reconstruction + lambda * KL(q(z|x) || prior); lambda = reconstruction weight gives the ELBO.</summary>
    Vae,
    /// <summary>WAE-MMD: reconstruction + lambda * MMD^2 with the IMQ kernel (deterministic encoder by default).</summary>
    WaeMmd,
    /// <summary>beta-VAE: reconstruction + beta * w * KL, i.e. the scaled ELBO with the KL weighted by beta (Higgins et al. 2017).</summary>
    BetaVae,
    /// <summary>WAE-GAN: reconstruction - lambda * log D(z) with a latent adversary D trained to tell codes from prior samples (Tolstikhin et al. 2018).</summary>
    WaeGan,
}

/// <summary>How the WWAE penalty W2^2(batch Gaussian, prior) is estimated from a mini-batch of codes (see docs/wwae.md, "The estimator").</summary>
[JsonConverter(typeof(JsonStringEnumConverter<W2Estimator>))]
public enum W2Estimator
{
    /// <summary>Plug-in: mean and unbiased covariance of the batch. Biased upwards (floor about d^2 / (4 n) for prior codes) and minimised below the prior's scale.</summary>
    Batch,
    /// <summary>
    /// Plug-in with two bias corrections: ||m1||^2 - Tr S1 / n (unbiased for ||mean||^2) and the square-root term divided by
    /// its expected shrinkage c(n, d) = E sum sqrt(eig(S_hat)) / d for Gaussian samples. Zero in expectation, and minimised
    /// at the prior's scale, for codes drawn from N(0, I).
    /// </summary>
    Corrected,
    /// <summary>Moments pooled over the current batch and the codes of the last <see cref="TrainingOptions.W2Window"/> - 1 batches (no gradient through those); gradient scaled by the window length.</summary>
    Window,
}

/// <summary>Learning-rate schedule.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<LearningRateSchedule>))]
public enum LearningRateSchedule
{
    /// <summary>The same rate throughout (after the warm-up).</summary>
    Constant,
    /// <summary>Cosine decay from --lr to 0 over all steps of the run (after the warm-up).</summary>
    Cosine,
}

/// <summary>Pixel cost c(x, G(z)), summed over pixels and averaged over the batch.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ReconstructionCost>))]
public enum ReconstructionCost
{
    /// <summary>Squared L2 (as WAE).</summary>
    L2,
    /// <summary>L1.</summary>
    L1,
}

/// <summary>Everything that defines a training run; saved with each checkpoint.</summary>
public sealed record TrainingOptions
{
    public ModelKind Model { get; init; } = ModelKind.Wwae;
    public int Latent { get; init; } = 8;
    public int Width { get; init; } = 64;
    /// <summary>Null: the model's default (deterministic only for WAE-MMD).</summary>
    public bool? Deterministic { get; init; }
    public int Epochs { get; init; } = 10;
    public int BatchSize { get; init; } = 100;
    public double LearningRate { get; init; } = 1e-3;
    public double Beta1 { get; init; } = 0.5;
    /// <summary>Penalty weight; null: the model's default (see <see cref="DefaultLambda"/>).</summary>
    public double? Lambda { get; init; }
    /// <summary>Weight of the pixel cost (WAE uses 0.05 * squared L2).</summary>
    public double ReconstructionWeight { get; init; } = 0.05;
    public ReconstructionCost Cost { get; init; } = ReconstructionCost.L2;
    public int Seed { get; init; }
    /// <summary>Stop an epoch after this many batches (0: all); for quick runs and tests.</summary>
    public int MaxStepsPerEpoch { get; init; }
    /// <summary>KL weight of the beta-VAE, in ELBO units (1: the VAE).</summary>
    public double? Beta { get; init; }
    /// <summary>Estimator of the WWAE penalty.</summary>
    public W2Estimator Estimator { get; init; } = W2Estimator.Corrected;
    /// <summary>Batches pooled by <see cref="W2Estimator.Window"/>.</summary>
    public int W2Window { get; init; } = 8;
    /// <summary>Adam learning rate of the WAE-GAN latent adversary (WAE: 5e-4).</summary>
    public double AdversaryLearningRate { get; init; } = 5e-4;
    /// <summary>Learning-rate schedule of the auto-encoder (and adversary).</summary>
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Constant;
    /// <summary>Linear warm-up steps from 0 to the learning rate.</summary>
    public int WarmupSteps { get; init; }

    /// <summary>Default penalty weights: WAE's lambda = 10 for WWAE and WAE-MMD; for the VAE, the reconstruction weight (so the loss is the scaled ELBO).</summary>
    public static double DefaultLambda(ModelKind model, double reconstructionWeight) => model switch
    {
        ModelKind.Vae => reconstructionWeight,
        ModelKind.WaeGan => 1.0,
        _ => 10.0,
    };

    /// <summary>The penalty weight in effect (beta-VAE: beta times the reconstruction weight).</summary>
    public double EffectiveLambda => Model == ModelKind.BetaVae ? (Beta ?? 1.0) * ReconstructionWeight : Lambda ?? DefaultLambda(Model, ReconstructionWeight);

    /// <summary>Learning-rate factor (0..1) at step <paramref name="step"/> (0-based) of <paramref name="totalSteps"/>.</summary>
    public double LearningRateFactor(long step, long totalSteps)
    {
        double warm = WarmupSteps > 0 && step < WarmupSteps ? (step + 1.0) / WarmupSteps : 1.0;
        if (Schedule == LearningRateSchedule.Constant) return warm;
        long decaySteps = Math.Max(1, totalSteps - WarmupSteps);
        double progress = Math.Clamp((step - WarmupSteps) / (double)decaySteps, 0, 1);
        return warm * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }

    /// <summary>Whether the encoder is deterministic in effect.</summary>
    public bool EffectiveDeterministic => Deterministic ?? Model is ModelKind.WaeMmd or ModelKind.WaeGan;

    /// <summary>Throws on values that cannot train.</summary>
    public void Validate()
    {
        if (Epochs < 1) throw new ArgumentException($"--epochs must be at least 1 (got {Epochs}).");
        if (BatchSize < 2) throw new ArgumentException($"--batch-size must be at least 2 (got {BatchSize}).");
        if (Model == ModelKind.Wwae && BatchSize <= Latent)
            throw new ArgumentException($"WWAE needs --batch-size larger than --latent (got batch {BatchSize}, latent {Latent}): the batch covariance of the codes is singular otherwise.");
        if (LearningRate <= 0) throw new ArgumentException("--lr must be positive.");
        if (EffectiveLambda < 0 || !double.IsFinite(EffectiveLambda)) throw new ArgumentException("--lambda (or --beta) must be a finite number, not negative.");
        if (Model == ModelKind.BetaVae && Beta is null) throw new ArgumentException("--model beta-vae needs --beta (the KL weight; 1 is the VAE).");
        if (Model == ModelKind.BetaVae && Lambda is not null) throw new ArgumentException("--model beta-vae is weighted by --beta, not --lambda.");
        if (Beta is not null && Model != ModelKind.BetaVae) throw new ArgumentException("--beta applies to --model beta-vae only.");
        if (W2Window < 2) throw new ArgumentException($"--w2-window must be at least 2 (got {W2Window}).");
        if (AdversaryLearningRate <= 0) throw new ArgumentException("--adversary-lr must be positive.");
        if (WarmupSteps < 0) throw new ArgumentException("--warmup-steps must not be negative.");
    }
}
