using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Toolkit.Reporting;
using static TorchSharp.torch;

namespace ExpertFlow.Demo;

/// <summary>Trains <see cref="DemoMixtral"/> on a <see cref="DemoCorpus"/> (next-token cross-entropy + Mixtral's load-balancing loss).</summary>
public sealed class DemoTrainer(ILogger logger)
{
    /// <summary>Trains, writing atomic checkpoints and a loss curve into <paramref name="outputDirectory"/>.</summary>
    public DemoTrainingResult Train(DemoMixtral model, DemoCorpus corpus, DemoTrainingOptions options, string outputDirectory,
        IProgress<DemoTrainingProgress>? progress = null, CancellationToken cancellation = default)
    {
        int length = options.SequenceLength;
        if (corpus.TrainStream.Length < length + 2) throw new ArgumentException($"the training corpus has only {corpus.TrainStream.Length} tokens, fewer than one sequence of {length}");
        var random = new Random(options.Seed);
        var optimizer = optim.AdamW(model.parameters(), lr: options.LearningRate, weight_decay: options.WeightDecay);
        var losses = new List<double>();
        var clock = Stopwatch.StartNew();
        var device = model.Device;
        long tokens = 0;
        model.train();
        int stepsDone = 0;
        for (int step = 1; step <= options.Steps; step++)
        {
            if (options.TimeLimit is { } limit && clock.Elapsed > limit)
            {
                logger.LogInformation("time limit of {Minutes:F1} min reached after {Steps} of {Planned} steps (the schedule followed the clock)", limit.TotalMinutes, stepsDone, options.Steps);
                break;
            }
            cancellation.ThrowIfCancellationRequested();
            SetLearningRate(optimizer, LearningRateAt(step, options, clock.Elapsed));
            using var scope = NewDisposeScope();
            var batch = SampleBatch(corpus.TrainStream, options.BatchSize, length + 1, random).to(device);
            var inputs = batch.narrow(1, 0, length);
            var targets = batch.narrow(1, 1, length);
            var logits = model.Forward(inputs, null, out var aux);
            var lm = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), targets.reshape(-1));
            var loss = lm + model.Config.RouterAuxLossCoef * aux;
            optimizer.zero_grad();
            loss.backward();
            nn.utils.clip_grad_norm_(model.parameters(), 1.0);
            optimizer.step();
            double lmValue = lm.item<float>();
            losses.Add(lmValue);
            stepsDone = step;
            tokens += options.BatchSize * length;
            progress?.Report(new DemoTrainingProgress(step, options.Steps, lmValue, aux.item<float>(), tokens / clock.Elapsed.TotalSeconds));
            if (step % options.CheckpointEvery == 0 && step < options.Steps)
            {
                DemoCheckpoint.Save(outputDirectory, model, corpus.Tokenizer, Metadata(step, options));
                logger.LogInformation("step {Step}: loss {Loss:F3}, checkpoint written to {Dir}", step, lmValue, outputDirectory);
            }
        }
        model.eval();
        var (validation, share) = Validate(model, corpus, length);
        DemoCheckpoint.Save(outputDirectory, model, corpus.Tokenizer, Metadata(stepsDone, options));
        WriteLossCurve(Path.Combine(outputDirectory, "loss.png"), losses);
        Files.WriteAllTextAtomically(Path.Combine(outputDirectory, "training_log.csv"),
            "step,loss\n" + string.Join("\n", losses.Select((l, i) => $"{i + 1},{l.ToString("F5", System.Globalization.CultureInfo.InvariantCulture)}")) + "\n");
        logger.LogInformation("trained {Steps} steps in {Seconds:F0} s; held-out loss {Validation:F3}", stepsDone, clock.Elapsed.TotalSeconds, validation);
        return new DemoTrainingResult(losses, validation, clock.Elapsed.TotalSeconds, share);
    }

    static Dictionary<string, string> Metadata(int step, DemoTrainingOptions o) => new()
    {
        ["step"] = step.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["seed"] = o.Seed.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["trained_by"] = "expertflow train-demo",
    };

    /// <summary>
    /// Linear warm-up, then cosine decay to a tenth of the peak. Under a time limit the decay follows whichever runs out
    /// first, steps or time, so a run cut by the clock still ends on a low learning rate.
    /// </summary>
    internal static double LearningRateAt(int step, DemoTrainingOptions o, TimeSpan elapsed)
    {
        if (step <= o.WarmupSteps) return o.LearningRate * step / Math.Max(1, o.WarmupSteps);
        double t = (double)(step - o.WarmupSteps) / Math.Max(1, o.Steps - o.WarmupSteps);
        if (o.TimeLimit is { } limit && limit > TimeSpan.Zero) t = Math.Max(t, elapsed / limit);
        t = Math.Min(1, t);
        return o.LearningRate * (0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * t)));
    }

    static void SetLearningRate(optim.Optimizer optimizer, double lr)
    {
        foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
    }

    static Tensor SampleBatch(int[] stream, int batch, int length, Random random)
    {
        var data = new long[batch * length];
        for (int b = 0; b < batch; b++)
        {
            int start = random.Next(stream.Length - length);
            for (int i = 0; i < length; i++) data[b * length + i] = stream[start + i];
        }
        return tensor(data, [batch, length]);
    }

    /// <summary>Mean next-token loss over held-out entries and each expert's share of routed slots (all layers).</summary>
    public static (double Loss, IReadOnlyList<double> ExpertShare) Validate(DemoMixtral model, DemoCorpus corpus, int maxLength)
    {
        using var noGrad = no_grad();
        double total = 0; long count = 0;
        var counts = new double[model.Config.NumExperts];
        var device = model.Device;
        foreach (var entry in corpus.HeldOutEntries.Take(200))
        {
            if (entry.Length < 2) continue;
            using var scope = NewDisposeScope();
            var ids = entry.Take(maxLength + 1).Select(i => (long)i).ToArray();
            var input = tensor(ids[..^1], [1, ids.Length - 1]).to(device);
            var target = tensor(ids[1..], [ids.Length - 1]).to(device);
            var capture = new List<(Tensor Ids, Tensor Logits)>();
            var logits = model.Forward(input, capture, out _);
            total += nn.functional.cross_entropy(logits[0], target, reduction: nn.Reduction.Sum).item<float>();
            count += ids.Length - 1;
            foreach (var (expertIds, _) in capture)
                foreach (long e in expertIds.flatten().cpu().data<long>()) counts[e]++;
        }
        double sum = Math.Max(1, counts.Sum());
        return (total / Math.Max(1, count), counts.Select(c => c / sum).ToArray());
    }

    static void WriteLossCurve(string path, IReadOnlyList<double> losses)
    {
        // Smoothed over 10 steps so the trend is readable.
        var smooth = losses.Select((_, i) => losses.Skip(Math.Max(0, i - 9)).Take(Math.Min(10, i + 1)).Average()).ToList();
        var x = Enumerable.Range(1, losses.Count).Select(i => (double)i).ToList();
        Charts.Line(path, "Demo MoE training loss (GCIDE, next-token cross-entropy)", "step", "loss",
            [new Series("loss", x, losses), new Series("10-step mean", x, smooth)]);
    }
}
