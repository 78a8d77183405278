using System.Diagnostics;
using TorchSharp;
using Wwae.Models;
using Wwae.Penalties;
using static TorchSharp.torch;

namespace Wwae.Training;

/// <summary>Result of a throughput measurement.</summary>
public sealed record ThroughputResult(string Model, string Device, int BatchSize, int Steps, double Seconds, double ImagesPerSecond, double FinalLoss);

/// <summary>
/// Training throughput of full steps (forward, loss, backward, Adam) on a fixed device-resident batch set,
/// the same protocol as bench/wwae/throughput.py runs with PyTorch, so the two can be compared in one session.
/// </summary>
public static class ThroughputBenchmark
{
    /// <summary>Runs <paramref name="warmup"/> untimed steps, then times <paramref name="steps"/> steps (synchronising at the end).</summary>
    public static ThroughputResult Run(TrainingOptions options, int channels, int imageSize, Device device, int steps, int warmup = 20)
    {
        options.Validate();
        manual_seed(options.Seed);
        var config = new AutoEncoderConfig(channels, imageSize, options.Latent, options.Width, options.EffectiveDeterministic);
        using var model = new GaussianAutoEncoder(config);
        model.to(device).train();
        using var optimizer = new FlatAdam(model.parameters(), options.LearningRate, options.Beta1, 0.999);
        using var prior = GaussianPrior.Standard(options.Latent, device);
        using var adversary = options.Model == ModelKind.WaeGan ? new LatentAdversary(options.Latent) : null;
        adversary?.to(device).train();
        using var adversaryOptimizer = adversary == null ? null : new FlatAdam(adversary.parameters(), options.AdversaryLearningRate, options.Beta1, 0.999);
        var objective = new Objective(options, prior, adversary);
        const int pool = 16;
        using var data = rand([pool, options.BatchSize, channels, imageSize, imageSize], device: device);
        float lastLoss = 0;
        void Step(int i)
        {
            using var scope = NewDisposeScope();
            var parts = objective.Compute(model, data[i % pool]);
            optimizer.ZeroGrad();
            adversaryOptimizer?.ZeroGrad();
            parts.Total.backward();
            optimizer.Step();
            if (adversary != null)
            {
                adversaryOptimizer!.ZeroGrad();
                (options.EffectiveLambda * adversary.Loss(prior.Sample(options.BatchSize).to(device), parts.Codes.detach())).backward();
                adversaryOptimizer.Step();
            }
            if (i == steps - 1) lastLoss = parts.Total.item<float>();
        }
        for (int i = 0; i < warmup; i++) Step(i);
        Synchronize(device);
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) Step(i);
        Synchronize(device);
        double seconds = watch.Elapsed.TotalSeconds;
        return new ThroughputResult(options.Model.ToString(), device.ToString(), options.BatchSize, steps, seconds, steps * options.BatchSize / seconds, lastLoss);
    }

    static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
    }
}
