using TorchSharp;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Toolkit.Data.Images;
using Wwae.Models;
using Wwae.Penalties;
using static TorchSharp.torch;

namespace Wwae.Training;

/// <summary>Progress of a run, reported after every logged step.</summary>
public sealed record TrainingProgress(int Epoch, int Epochs, int Step, int StepsPerEpoch, double Loss);

/// <summary>
/// Trains a <see cref="GaussianAutoEncoder"/> with one of the three objectives (Adam, shuffled mini-batches
/// of constant size), checkpointing after every epoch. Seeds are derived from (seed, epoch), so a resumed
/// run draws the same batches and noise as an uninterrupted one.
/// </summary>
public sealed class Trainer
{
    readonly TrainingOptions options;
    readonly IImageSource data;
    readonly string datasetName;
    readonly Device device;
    readonly ILogger logger;

    public Trainer(TrainingOptions options, IImageSource data, string datasetName, Device device, ILogger? logger = null)
    {
        options.Validate();
        if (data.Height != data.Width) throw new ArgumentException($"images must be square, got {data.Height}x{data.Width}.");
        if (data.Count < options.BatchSize) throw new ArgumentException($"the data set has {data.Count} images, fewer than one batch of {options.BatchSize}.");
        this.options = options;
        this.data = data;
        this.datasetName = datasetName;
        this.device = device;
        this.logger = logger ?? NullLogger.Instance;
    }

    /// <summary>Steps per epoch (full batches only: the W2 penalty needs a constant, large enough batch).</summary>
    public int StepsPerEpoch => options.MaxStepsPerEpoch > 0 ? Math.Min(options.MaxStepsPerEpoch, data.Count / options.BatchSize) : data.Count / options.BatchSize;

    /// <summary>
    /// Trains until <see cref="TrainingOptions.Epochs"/> epochs are done. With <paramref name="runDirectory"/>,
    /// checkpoints there after each epoch and resumes from an existing checkpoint when <paramref name="resume"/>.
    /// Returns the trained model (on <see cref="device"/>) and the final state.
    /// </summary>
    public (GaussianAutoEncoder Model, CheckpointState State) Run(string? runDirectory, bool resume,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancel = default)
    {
        var config = new AutoEncoderConfig(data.Channels, data.Height, options.Latent, options.Width, options.EffectiveDeterministic);
        manual_seed(options.Seed);
        var model = new GaussianAutoEncoder(config);
        var state = new CheckpointState { Options = options, Dataset = datasetName, Channels = data.Channels, ImageSize = data.Height, EpochsDone = 0, ModelFile = "" };
        string? optimizerToLoad = null;
        CheckpointState? resumeState = null;
        if (runDirectory != null && Checkpoint.Exists(runDirectory))
        {
            if (!resume) throw new ArgumentException($"'{runDirectory}' already holds a checkpoint; pass --resume to continue it or choose another --out.");
            var saved = Checkpoint.ReadState(runDirectory);
            var mismatch = Mismatch(saved);
            if (mismatch != null) throw new ArgumentException($"cannot resume '{runDirectory}': {mismatch}");
            Checkpoint.LoadWeights(runDirectory, saved, model);
            optimizerToLoad = saved.OptimizerFile == null ? null : Path.Combine(runDirectory, saved.OptimizerFile);
            state = saved with { Options = saved.Options with { Epochs = options.Epochs } };
            resumeState = saved;
            logger.LogInformation("Resuming {Dir} after epoch {Epoch}", runDirectory, saved.EpochsDone);
        }
        model.to(device);
        using var optimizer = new FlatAdam(model.parameters(), options.LearningRate, options.Beta1, 0.999);
        if (optimizerToLoad != null) optimizer.Load(optimizerToLoad);
        using var adversary = options.Model == ModelKind.WaeGan ? new LatentAdversary(options.Latent) : null;
        FlatAdam? adversaryOptimizer = null;
        if (adversary != null)
        {
            if (resumeState?.AdversaryFile is { } adversaryFile)
                WeightFile.Load(adversary, Path.Combine(runDirectory!, adversaryFile), "adversary weights", $"train again, or restore the run folder '{runDirectory}' from a copy");
            adversary.to(device);
            adversaryOptimizer = new FlatAdam(adversary.parameters(), options.AdversaryLearningRate, options.Beta1, 0.999);
            if (resumeState?.AdversaryOptimizerFile is { } adversaryOptimizerFile) adversaryOptimizer.Load(Path.Combine(runDirectory!, adversaryOptimizerFile));
        }
        using var adversaryOptimizerScope = adversaryOptimizer;
        using var prior = GaussianPrior.Standard(options.Latent, device);
        var objective = new Objective(options, prior, adversary);
        using var batches = BatchReader.Create(data, device);
        // The corrected estimator's constant is simulated once per (batch, latent), before any epoch draws its numbers.
        if (options.Model == ModelKind.Wwae && options.Estimator == W2Estimator.Corrected) W2Shrinkage.Factor(options.BatchSize, options.Latent);
        int steps = StepsPerEpoch;
        int logEvery = Math.Max(1, steps / 20);
        long totalSteps = (long)options.Epochs * steps;

        for (int epoch = state.EpochsDone + 1; epoch <= options.Epochs; epoch++)
        {
            cancel.ThrowIfCancellationRequested();
            model.train();
            adversary?.train();
            objective.StartEpoch();
            manual_seed(options.Seed * 100_003L + epoch);
            // Not HashCode.Combine: it is randomised per process, and a resumed run must draw the same order in a new process.
            var order = Permutation(data.Count, new Random(unchecked(options.Seed * 1_000_003 + epoch)));
            var sums = zeros(3, dtype: float64, device: device);
            var curve = new List<CurvePoint>();
            var watch = Stopwatch.StartNew();
            double lastLoss = double.NaN;
            for (int step = 0; step < steps; step++)
            {
                using var scope = NewDisposeScope();
                long globalStep = (long)(epoch - 1) * steps + step;
                double factor = options.LearningRateFactor(globalStep, totalSteps);
                optimizer.LearningRate = Math.Max(options.LearningRate * factor, 1e-12);
                if (adversaryOptimizer != null) adversaryOptimizer.LearningRate = Math.Max(options.AdversaryLearningRate * factor, 1e-12);
                var x = batches.Read(order.AsSpan(step * options.BatchSize, options.BatchSize));
                LossParts parts;
                try
                {
                    parts = objective.Compute(model, x);
                }
                catch (NonFiniteCodesException)
                {
                    throw Diverged("latent codes", double.NaN, epoch, step);
                }
                optimizer.ZeroGrad();
                adversaryOptimizer?.ZeroGrad();
                parts.Total.backward();
                optimizer.Step();
                if (adversary != null)
                {
                    // The adversary learns to tell prior samples from the (now fixed) codes of this batch.
                    adversaryOptimizer!.ZeroGrad();
                    var adversaryLoss = options.EffectiveLambda * adversary.Loss(prior.Sample(options.BatchSize).to(device), parts.Codes.detach());
                    adversaryLoss.backward();
                    adversaryOptimizer.Step();
                }
                sums.add_(stack([parts.Total.detach(), parts.Reconstruction.detach(), parts.Penalty.detach().to(float32)]).to(float64));
                if ((step + 1) % logEvery == 0 || step == steps - 1)
                {
                    var values = stack([parts.Total.detach(), parts.Reconstruction.detach(), parts.Penalty.detach().to(float32)]).cpu().data<float>().ToArray();
                    lastLoss = values[0];
                    curve.Add(new CurvePoint((long)(epoch - 1) * steps + step + 1, values[0], values[1], values[2]));
                    if (!double.IsFinite(lastLoss) || !sums.isfinite().all().item<bool>()) throw Diverged("loss", lastLoss, epoch, step);
                    progress?.Report(new TrainingProgress(epoch, options.Epochs, step + 1, steps, lastLoss));
                }
            }
            var mean = (sums / steps).data<double>().ToArray();
            sums.Dispose();
            double seconds = watch.Elapsed.TotalSeconds;
            var record = new EpochRecord(epoch, steps, mean[0], mean[1], mean[2], seconds, steps * options.BatchSize / seconds);
            state = state with { EpochsDone = epoch, History = [.. state.History, record], Curve = [.. state.Curve, .. curve] };
            logger.LogInformation("epoch {Epoch}/{Epochs}: loss {Loss:F4} (reconstruction {Rec:F3}, penalty {Pen:F4}), {Ips:F0} images/s",
                epoch, options.Epochs, record.Loss, record.Reconstruction, record.Penalty, record.ImagesPerSecond);
            if (runDirectory != null) Checkpoint.Save(runDirectory, state, model, optimizer, adversary, adversaryOptimizer);
        }
        objective.StartEpoch();
        model.eval();
        return (model, state);
    }

    TrainingDivergedException Diverged(string what, double value, int epoch, int step) => new(
        $"training diverged: the {what} became {(double.IsNaN(value) ? "NaN" : value.ToString("G3", System.Globalization.CultureInfo.InvariantCulture))} at epoch {epoch}, step {step + 1}; " +
        $"lower --lr (now {options.LearningRate:G3}) or --lambda (now {options.EffectiveLambda:G3})" +
        (epoch > 1 ? $"; the checkpoint of epoch {epoch - 1} is intact." : "."));

    string? Mismatch(CheckpointState saved)
    {
        var o = saved.Options;
        if (saved.Dataset != datasetName) return $"it was trained on {saved.Dataset}, not {datasetName}.";
        if (o.Model != options.Model) return $"it trains {o.Model}, not {options.Model}.";
        if (o.Latent != options.Latent || o.Width != options.Width || o.EffectiveDeterministic != options.EffectiveDeterministic)
            return $"its model shape (latent {o.Latent}, width {o.Width}) differs from the options (latent {options.Latent}, width {options.Width}).";
        if (o.BatchSize != options.BatchSize || o.Seed != options.Seed || o.EffectiveLambda != options.EffectiveLambda || o.Cost != options.Cost)
            return "its batch size, seed, lambda or cost differ from the options given now.";
        if (o.Estimator != options.Estimator || o.W2Window != options.W2Window || o.Schedule != options.Schedule || o.WarmupSteps != options.WarmupSteps
            || o.LearningRate != options.LearningRate || o.AdversaryLearningRate != options.AdversaryLearningRate)
            return "its W2 estimator, learning rates or schedule differ from the options given now.";
        return null;
    }

    static int[] Permutation(int n, Random random)
    {
        var order = Enumerable.Range(0, n).ToArray();
        random.Shuffle(order);
        return order;
    }
}

/// <summary>Turns index lists into float batches on the device: in-memory sets live on the device as bytes; streamed ones are read per batch.</summary>
internal abstract class BatchReader : IDisposable
{
    public static BatchReader Create(IImageSource source, Device device) =>
        source is ImageSet set ? new DeviceResident(set, device) : new Streamed(source, device);

    public abstract Tensor Read(ReadOnlySpan<int> indices);
    public virtual void Dispose() { }

    sealed class DeviceResident(ImageSet set, Device device) : BatchReader
    {
        readonly Tensor pixels = tensor(set.Pixels, ScalarType.Byte).reshape(set.Count, set.Channels, set.Height, set.Width).to(device);
        public override Tensor Read(ReadOnlySpan<int> indices)
        {
            var index = tensor(indices.ToArray(), ScalarType.Int32).to(pixels.device);
            return pixels.index_select(0, index).to(float32).div_(255f);
        }
        public override void Dispose() => pixels.Dispose();
    }

    sealed class Streamed(IImageSource source, Device device) : BatchReader
    {
        public override Tensor Read(ReadOnlySpan<int> indices)
        {
            var buffer = new float[indices.Length * source.Channels * source.Height * source.Width];
            source.ReadBatch(indices, buffer);
            return tensor(buffer).reshape(indices.Length, source.Channels, source.Height, source.Width).to(device);
        }
    }
}
