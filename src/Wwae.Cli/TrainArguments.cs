using System.CommandLine;
using Wwae.Training;

namespace Wwae.Cli;

/// <summary>The options shared by train, compare and bench, and their mapping to <see cref="TrainingOptions"/>.</summary>
sealed class TrainArguments
{
    public readonly Option<string> Dataset = new("--dataset") { Description = "fashion-mnist (found in /usr/share/datasets/fashion-mnist), mnist or celeba.", DefaultValueFactory = _ => "fashion-mnist" };
    public readonly Option<string?> Data = new("--data") { Description = "Data folder: the four IDX files (mnist, fashion-mnist), the folder with img_align_celeba/ and list_eval_partition.txt (celeba), or folder:PATH for any folder of images (resized and centre-cropped to --image-size)." };
    public readonly Option<int> ImageSize = new("--image-size") { Description = "Side of the images from --data folder:PATH: 64 (default) or 28.", DefaultValueFactory = _ => 64 };
    public readonly Option<bool> SkipDamaged = new("--skip-damaged") { Description = "Leave images that cannot be decoded out (with a warning giving their count) instead of stopping." };
    public readonly Option<double?> Beta = new("--beta") { Description = "KL weight of --model beta-vae in ELBO units (1: the VAE)." };
    public readonly Option<string> Estimator = new("--w2-estimator") { Description = "WWAE penalty estimator: batch (plug-in), corrected (bias-corrected) or window (moments over the last --w2-window batches). See docs/wwae.md.", DefaultValueFactory = _ => "corrected" };
    public readonly Option<int> Window = new("--w2-window") { Description = "Batches pooled by --w2-estimator window.", DefaultValueFactory = _ => 8 };
    public readonly Option<double> AdversaryLr = new("--adversary-lr") { Description = "Adam learning rate of the WAE-GAN latent adversary.", DefaultValueFactory = _ => 5e-4 };
    public readonly Option<string> Schedule = new("--lr-schedule") { Description = "constant or cosine (decay to 0 over the run).", DefaultValueFactory = _ => "constant" };
    public readonly Option<int> Warmup = new("--warmup-steps") { Description = "Linear learning-rate warm-up steps.", DefaultValueFactory = _ => 0 };
    public readonly Option<int> Latent = new("--latent") { Description = "Latent size (default 8 for 28x28, 64 for 64x64)." };
    public readonly Option<int> Width = new("--width") { Description = "Channels of the first convolution (doubling per stage).", DefaultValueFactory = _ => 64 };
    public readonly Option<int> Epochs = new("--epochs") { Description = "Training epochs.", DefaultValueFactory = _ => 10 };
    public readonly Option<int> BatchSize = new("--batch-size") { Description = "Mini-batch size (must exceed --latent for WWAE).", DefaultValueFactory = _ => 100 };
    public readonly Option<double> LearningRate = new("--lr") { Description = "Adam learning rate (beta1 0.5).", DefaultValueFactory = _ => 1e-3 };
    public readonly Option<double?> Lambda = new("--lambda") { Description = "Penalty weight (default: 10 for wwae and wae-mmd, 1 for wae-gan; the reconstruction weight for vae, i.e. the ELBO; beta-vae uses --beta)." };
    public readonly Option<double> ReconWeight = new("--recon-weight") { Description = "Weight of the pixel cost (WAE: 0.05).", DefaultValueFactory = _ => 0.05 };
    public readonly Option<string> Cost = new("--cost") { Description = "Pixel cost: l2 (squared) or l1.", DefaultValueFactory = _ => "l2" };
    public readonly Option<bool> Deterministic = new("--deterministic") { Description = "Deterministic encoder z = mu(x) (default for wae-mmd)." };
    public readonly Option<bool> Stochastic = new("--stochastic") { Description = "Stochastic encoder z = mu + sigma * eps (default for wwae and vae)." };
    public readonly Option<int> Limit = new("--limit") { Description = "Use only the first N training images (0: all).", DefaultValueFactory = _ => 0 };
    public readonly Option<int> MaxSteps = new("--max-steps-per-epoch") { Description = "Stop each epoch after N batches (0: all).", DefaultValueFactory = _ => 0 };

    public IEnumerable<Option> All => [Dataset, Data, ImageSize, SkipDamaged, Latent, Width, Epochs, BatchSize, LearningRate, Lambda, Beta, ReconWeight, Cost,
        Deterministic, Stochastic, Limit, MaxSteps, Estimator, Window, AdversaryLr, Schedule, Warmup];

    /// <summary>The data options given.</summary>
    public Wwae.Data.DataSpec DataSpec(ParseResult p) => Wwae.Data.DataSpec.Parse(p.GetValue(Dataset)!, p.GetValue(Data), p.GetValue(ImageSize), p.GetValue(SkipDamaged));

    public static ModelKind ParseModel(string name) => name.Trim().ToLowerInvariant() switch
    {
        "wwae" => ModelKind.Wwae,
        "vae" => ModelKind.Vae,
        "wae-mmd" or "waemmd" => ModelKind.WaeMmd,
        "beta-vae" or "betavae" => ModelKind.BetaVae,
        "wae-gan" or "waegan" => ModelKind.WaeGan,
        _ => throw new ArgumentException($"unknown model '{name}'; use wwae, vae, beta-vae, wae-mmd or wae-gan."),
    };

    public static string ModelName(ModelKind kind) => kind switch
    {
        ModelKind.WaeMmd => "wae-mmd",
        ModelKind.WaeGan => "wae-gan",
        ModelKind.BetaVae => "beta-vae",
        _ => kind.ToString().ToLowerInvariant(),
    };

    public TrainingOptions Build(ParseResult p, ModelKind model, int seed, int imageSize)
    {
        if (p.GetValue(Deterministic) && p.GetValue(Stochastic)) throw new ArgumentException("--deterministic and --stochastic exclude each other.");
        int latent = p.GetValue(Latent);
        return new TrainingOptions
        {
            Model = model,
            Latent = latent > 0 ? latent : imageSize == 64 ? 64 : 8,
            Width = p.GetValue(Width),
            Deterministic = p.GetValue(Deterministic) ? true : p.GetValue(Stochastic) ? false : null,
            Epochs = p.GetValue(Epochs),
            BatchSize = p.GetValue(BatchSize),
            LearningRate = p.GetValue(LearningRate),
            Lambda = model == ModelKind.BetaVae ? null : p.GetValue(Lambda),
            ReconstructionWeight = p.GetValue(ReconWeight),
            Cost = p.GetValue(Cost)?.ToLowerInvariant() switch
            {
                "l2" => ReconstructionCost.L2,
                "l1" => ReconstructionCost.L1,
                var c => throw new ArgumentException($"--cost {c}: use l2 or l1."),
            },
            Seed = seed,
            MaxStepsPerEpoch = p.GetValue(MaxSteps),
            Beta = model == ModelKind.BetaVae ? p.GetValue(Beta) : null,
            Estimator = p.GetValue(Estimator)?.ToLowerInvariant() switch
            {
                "batch" => W2Estimator.Batch,
                "corrected" => W2Estimator.Corrected,
                "window" => W2Estimator.Window,
                var e => throw new ArgumentException($"--w2-estimator {e}: use batch, corrected or window."),
            },
            W2Window = p.GetValue(Window),
            AdversaryLearningRate = p.GetValue(AdversaryLr),
            Schedule = p.GetValue(Schedule)?.ToLowerInvariant() switch
            {
                "constant" => LearningRateSchedule.Constant,
                "cosine" => LearningRateSchedule.Cosine,
                var e => throw new ArgumentException($"--lr-schedule {e}: use constant or cosine."),
            },
            WarmupSteps = p.GetValue(Warmup),
        };
    }
}
