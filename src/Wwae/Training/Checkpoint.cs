using System.Text.Json;
using Toolkit.Reporting;
using Wwae.Models;
using static TorchSharp.torch;

namespace Wwae.Training;

/// <summary>Per-epoch averages of a training run.</summary>
public sealed record EpochRecord(int Epoch, int Steps, double Loss, double Reconstruction, double Penalty, double Seconds, double ImagesPerSecond);

/// <summary>One batch's loss parts, sampled during training for the loss curve (Step counts from 1 over all epochs).</summary>
public sealed record CurvePoint(long Step, double Loss, double Reconstruction, double Penalty);

/// <summary>What state.json of a run folder holds: the options, the image shape, progress and the files of the latest checkpoint.</summary>
public sealed record CheckpointState
{
    public required TrainingOptions Options { get; init; }
    public required string Dataset { get; init; }
    public required int Channels { get; init; }
    public required int ImageSize { get; init; }
    public required int EpochsDone { get; init; }
    public required string ModelFile { get; init; }
    public string? OptimizerFile { get; init; }
    /// <summary>WAE-GAN: weights of the latent adversary.</summary>
    public string? AdversaryFile { get; init; }
    /// <summary>WAE-GAN: optimizer state of the latent adversary.</summary>
    public string? AdversaryOptimizerFile { get; init; }
    public List<EpochRecord> History { get; init; } = [];
    /// <summary>Sampled per-batch losses (about 20 per epoch).</summary>
    public List<CurvePoint> Curve { get; init; } = [];

    /// <summary>The model shape this state describes.</summary>
    public AutoEncoderConfig ModelConfig => new(Channels, ImageSize, Options.Latent, Options.Width, Options.EffectiveDeterministic);
}

/// <summary>
/// Atomic, resumable checkpoints in a run folder. Weights and optimizer state go to files named by epoch
/// (each written atomically), then state.json (written atomically) is switched to them, then older files are
/// deleted: a crash at any point leaves a state.json that names complete files.
/// </summary>
public static class Checkpoint
{
    /// <summary>File name of the run state.</summary>
    public const string StateFile = "state.json";

    static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>True when <paramref name="runDirectory"/> holds a checkpoint.</summary>
    public static bool Exists(string runDirectory) => File.Exists(Path.Combine(runDirectory, StateFile));

    /// <summary>Reads state.json of a run folder, with a clear error when it is missing or damaged.</summary>
    public static CheckpointState ReadState(string runDirectory)
    {
        string path = Path.Combine(runDirectory, StateFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"'{runDirectory}' holds no checkpoint ({StateFile} is missing); train a model there first with 'wwae train --out {runDirectory}'.", path);
        try
        {
            var state = JsonSerializer.Deserialize<CheckpointState>(File.ReadAllText(path), Json)
                ?? throw new InvalidDataException($"'{path}' is empty.");
            if (state.Options is null || state.ModelFile is null || state.Channels is not (1 or 3) || state.ImageSize is not (28 or 64) || state.EpochsDone < 0)
                throw new InvalidDataException($"'{path}' is not a checkpoint state of this tool (options, channels, image size or model file missing or out of range).");
            return state;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}' is not a valid checkpoint state: {e.Message}", e);
        }
    }

    /// <summary>Saves weights, optimizer state and the run state for epoch <paramref name="state"/>.EpochsDone.</summary>
    public static void Save(string runDirectory, CheckpointState state, GaussianAutoEncoder model, FlatAdam? optimizer,
        LatentAdversary? adversary = null, FlatAdam? adversaryOptimizer = null)
    {
        Directory.CreateDirectory(runDirectory);
        string modelFile = $"model-e{state.EpochsDone}.bin";
        string? optimizerFile = optimizer == null ? null : $"optimizer-e{state.EpochsDone}.bin";
        string? adversaryFile = adversary == null ? null : $"adversary-e{state.EpochsDone}.bin";
        string? adversaryOptimizerFile = adversaryOptimizer == null ? null : $"adversary-optimizer-e{state.EpochsDone}.bin";
        Files.WriteAtomically(Path.Combine(runDirectory, modelFile), temp => model.save(temp));
        if (optimizer != null) Files.WriteAtomically(Path.Combine(runDirectory, optimizerFile!), temp => optimizer.Save(temp));
        if (adversary != null) Files.WriteAtomically(Path.Combine(runDirectory, adversaryFile!), temp => adversary.save(temp));
        if (adversaryOptimizer != null) Files.WriteAtomically(Path.Combine(runDirectory, adversaryOptimizerFile!), temp => adversaryOptimizer.Save(temp));
        var saved = state with { ModelFile = modelFile, OptimizerFile = optimizerFile, AdversaryFile = adversaryFile, AdversaryOptimizerFile = adversaryOptimizerFile };
        Files.WriteAllTextAtomically(Path.Combine(runDirectory, StateFile), JsonSerializer.Serialize(saved, Json));
        string?[] current = [modelFile, optimizerFile, adversaryFile, adversaryOptimizerFile];
        foreach (var old in Directory.EnumerateFiles(runDirectory, "*-e*.bin"))
            if (!current.Contains(Path.GetFileName(old))) File.Delete(old);
    }

    /// <summary>Loads the weights <paramref name="state"/> names into <paramref name="model"/>, with one clear error when they are missing or damaged.</summary>
    public static void LoadWeights(string runDirectory, CheckpointState state, GaussianAutoEncoder model)
    {
        if (string.IsNullOrEmpty(state.ModelFile) || Path.GetFileName(state.ModelFile) != state.ModelFile)
            throw new InvalidDataException($"'{Path.Combine(runDirectory, StateFile)}' names no usable weight file ('{state.ModelFile}'); the checkpoint is damaged, train again.");
        WeightFile.Load(model, Path.Combine(runDirectory, state.ModelFile), "checkpoint weights",
            $"train again, or restore the run folder '{runDirectory}' from a copy");
    }

    /// <summary>Builds the model a run folder describes and loads its latest weights (on the CPU).</summary>
    public static (GaussianAutoEncoder Model, CheckpointState State) LoadModel(string runDirectory)
    {
        var state = ReadState(runDirectory);
        var model = new GaussianAutoEncoder(state.ModelConfig);
        try
        {
            LoadWeights(runDirectory, state, model);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return (model, state);
    }
}
