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

    /// <summary>Default penalty weights: WAE's lambda = 10 for WWAE and WAE-MMD; for the VAE, the reconstruction weight (so the loss is the scaled ELBO).</summary>
    public static double DefaultLambda(ModelKind model, double reconstructionWeight) => model switch
    {
        ModelKind.Vae => reconstructionWeight,
        _ => 10.0,
    };

    /// <summary>The penalty weight in effect.</summary>
    public double EffectiveLambda => Lambda ?? DefaultLambda(Model, ReconstructionWeight);

    /// <summary>Whether the encoder is deterministic in effect.</summary>
    public bool EffectiveDeterministic => Deterministic ?? Model == ModelKind.WaeMmd;

    /// <summary>Throws on values that cannot train.</summary>
    public void Validate()
    {
        if (Epochs < 1) throw new ArgumentException($"--epochs must be at least 1 (got {Epochs}).");
        if (BatchSize < 2) throw new ArgumentException($"--batch-size must be at least 2 (got {BatchSize}).");
        if (Model == ModelKind.Wwae && BatchSize <= Latent)
            throw new ArgumentException($"WWAE needs --batch-size larger than --latent (got batch {BatchSize}, latent {Latent}): the batch covariance of the codes is singular otherwise.");
        if (LearningRate <= 0) throw new ArgumentException("--lr must be positive.");
        if (EffectiveLambda < 0) throw new ArgumentException("--lambda must not be negative.");
    }
}
