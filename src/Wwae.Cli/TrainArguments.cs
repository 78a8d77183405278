using System.CommandLine;
using Wwae.Training;

namespace Wwae.Cli;

/// <summary>The options shared by train, compare and bench, and their mapping to <see cref="TrainingOptions"/>.</summary>
sealed class TrainArguments
{
    public readonly Option<string> Dataset = new("--dataset") { Description = "fashion-mnist (found in /usr/share/datasets/fashion-mnist), mnist or celeba.", DefaultValueFactory = _ => "fashion-mnist" };
    public readonly Option<string?> Data = new("--data") { Description = "Data folder: the four IDX files (mnist, fashion-mnist) or the folder with img_align_celeba/ and list_eval_partition.txt (celeba)." };
    public readonly Option<int> Latent = new("--latent") { Description = "Latent size (default 8 for 28x28, 64 for 64x64)." };
    public readonly Option<int> Width = new("--width") { Description = "Channels of the first convolution (doubling per stage).", DefaultValueFactory = _ => 64 };
    public readonly Option<int> Epochs = new("--epochs") { Description = "Training epochs.", DefaultValueFactory = _ => 10 };
    public readonly Option<int> BatchSize = new("--batch-size") { Description = "Mini-batch size (must exceed --latent for WWAE).", DefaultValueFactory = _ => 100 };
    public readonly Option<double> LearningRate = new("--lr") { Description = "Adam learning rate (beta1 0.5).", DefaultValueFactory = _ => 1e-3 };
    public readonly Option<double?> Lambda = new("--lambda") { Description = "Penalty weight (default: 10 for wwae and wae-mmd; the reconstruction weight for vae, i.e. the ELBO)." };
    public readonly Option<double> ReconWeight = new("--recon-weight") { Description = "Weight of the pixel cost (WAE: 0.05).", DefaultValueFactory = _ => 0.05 };
    public readonly Option<string> Cost = new("--cost") { Description = "Pixel cost: l2 (squared) or l1.", DefaultValueFactory = _ => "l2" };
    public readonly Option<bool> Deterministic = new("--deterministic") { Description = "Deterministic encoder z = mu(x) (default for wae-mmd)." };
    public readonly Option<bool> Stochastic = new("--stochastic") { Description = "Stochastic encoder z = mu + sigma * eps (default for wwae and vae)." };
    public readonly Option<int> Limit = new("--limit") { Description = "Use only the first N training images (0: all).", DefaultValueFactory = _ => 0 };
    public readonly Option<int> MaxSteps = new("--max-steps-per-epoch") { Description = "Stop each epoch after N batches (0: all).", DefaultValueFactory = _ => 0 };

    public IEnumerable<Option> All => [Dataset, Data, Latent, Width, Epochs, BatchSize, LearningRate, Lambda, ReconWeight, Cost, Deterministic, Stochastic, Limit, MaxSteps];

    public static ModelKind ParseModel(string name) => name.Trim().ToLowerInvariant() switch
    {
        "wwae" => ModelKind.Wwae,
        "vae" => ModelKind.Vae,
        "wae-mmd" or "waemmd" => ModelKind.WaeMmd,
        _ => throw new ArgumentException($"unknown model '{name}'; use wwae, vae or wae-mmd."),
    };

    public static string ModelName(ModelKind kind) => kind switch { ModelKind.WaeMmd => "wae-mmd", _ => kind.ToString().ToLowerInvariant() };

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
            Lambda = p.GetValue(Lambda),
            ReconstructionWeight = p.GetValue(ReconWeight),
            Cost = p.GetValue(Cost)?.ToLowerInvariant() switch
            {
                "l2" => ReconstructionCost.L2,
                "l1" => ReconstructionCost.L1,
                var c => throw new ArgumentException($"--cost {c}: use l2 or l1."),
            },
            Seed = seed,
            MaxStepsPerEpoch = p.GetValue(MaxSteps),
        };
    }
}
