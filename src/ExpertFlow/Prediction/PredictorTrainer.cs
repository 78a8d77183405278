using System.Diagnostics;
using ExpertFlow.Tracing;
using Toolkit.Reporting;
using static TorchSharp.torch;

namespace ExpertFlow.Prediction;

/// <summary>Trains the predictor with binary cross-entropy against traced routing, padding masked.</summary>
public static class PredictorTrainer
{
    public static IReadOnlyList<double> Train(RoutingPathPredictor predictor, IReadOnlyList<TracedSequence> traces, RoutingTraceHeader header,
        PredictorTrainingOptions options, IProgress<PredictorTrainingProgress>? progress = null, CancellationToken cancellation = default)
    {
        var usable = traces.Where(t => t.Length >= 2).ToList();
        if (usable.Count == 0) throw new ArgumentException("the routing traces hold no sequence of two or more tokens to train on");
        var random = new Random(options.Seed);
        var device = predictor.parameters().First().device;
        var optimizer = optim.AdamW(predictor.parameters(), lr: options.LearningRate, weight_decay: 0.01);
        var losses = new List<double>();
        var clock = Stopwatch.StartNew();
        long tokens = 0;
        predictor.train();
        for (int step = 1; step <= options.Steps; step++)
        {
            cancellation.ThrowIfCancellationRequested();
            double lr = step <= options.WarmupSteps ? options.LearningRate * step / options.WarmupSteps
                : options.LearningRate * (0.05 + 0.95 * 0.5 * (1 + Math.Cos(Math.PI * (step - options.WarmupSteps) / Math.Max(1, options.Steps - options.WarmupSteps))));
            foreach (var g in optimizer.ParamGroups) g.LearningRate = lr;
            var examples = new List<PredictorExample>(options.BatchSize);
            for (int i = 0; i < options.BatchSize; i++)
            {
                var s = usable[random.Next(usable.Count)];
                examples.Add(random.NextDouble() < options.PrefillShare
                    ? PredictorExample.Prefill(s, options.MaxLength)
                    : PredictorExample.Decode(s, 1 + random.Next(s.Length - 1), options.MaxLength));
            }
            using var scope = NewDisposeScope();
            using var batch = PredictorBatch.Build(examples, header, device);
            var logits = predictor.Forward(batch.PromptIds, batch.PromptLengths, batch.TokenIds, batch.TokenStart);
            var loss = MaskedBce(logits, batch.Targets, batch.Mask);
            optimizer.zero_grad();
            loss.backward();
            nn.utils.clip_grad_norm_(predictor.parameters(), 1.0);
            optimizer.step();
            double value = loss.item<float>();
            losses.Add(value);
            tokens += (long)batch.Mask.sum().item<float>();
            progress?.Report(new PredictorTrainingProgress(step, options.Steps, value, tokens / clock.Elapsed.TotalSeconds));
            if (options.TimeLimit is { } limit && clock.Elapsed > limit) break;
        }
        predictor.eval();
        return losses;
    }

    /// <summary>Mean BCE over real tokens (padding positions contribute nothing).</summary>
    public static Tensor MaskedBce(Tensor logits, Tensor targets, Tensor mask)
    {
        var perElement = nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction: nn.Reduction.None); // [B,S,L,E]
        var perToken = perElement.mean([2L, 3L]);
        return (perToken * mask).sum() / mask.sum().clamp_min(1);
    }

    /// <summary>Writes the predictor (weights via TorchSharp's format, config as JSON) into a folder, atomically per file.</summary>
    public static void Save(RoutingPathPredictor predictor, string directory)
    {
        Directory.CreateDirectory(directory);
        Files.WriteAllTextAtomically(Path.Combine(directory, ConfigFile), predictor.Config.ToJson());
        Files.WriteAtomically(Path.Combine(directory, WeightsFile), path => predictor.save(path));
    }

    /// <summary>
    /// Reads a predictor folder; with <paramref name="model"/>, checks that the predictor was trained for that model.
    /// A missing, damaged or mismatched file is an error that names it.
    /// </summary>
    public static RoutingPathPredictor Load(string directory, ModelIdentity? model = null)
    {
        string configPath = Path.Combine(directory, ConfigFile), weightsPath = Path.Combine(directory, WeightsFile);
        if (!File.Exists(configPath)) throw new FileNotFoundException($"'{directory}' holds no predictor ({ConfigFile}); train one with 'expertflow train-predictor'", configPath);
        var config = PredictorConfig.FromJson(File.ReadAllText(configPath), configPath);
        if (model != null) config.CheckFits(model, configPath);
        if (!File.Exists(weightsPath)) throw new FileNotFoundException($"'{directory}' lacks the predictor's weights ({WeightsFile}); train it again with 'expertflow train-predictor'", weightsPath);
        const string remedy = "train the predictor again with 'expertflow train-predictor'";
        // Before anything is allocated: a config describing a larger predictor than the file can hold is damaged.
        long length = new FileInfo(weightsPath).Length;
        if (length / sizeof(float) < config.ParameterCount)
            throw new InvalidDataException($"{weightsPath} holds {length} bytes, too few for the {config.ParameterCount} float parameters " +
                $"{ConfigFile} describes (truncated, or the two files do not belong together); {remedy}");
        var predictor = new RoutingPathPredictor(config);
        try
        {
            ModuleStateFile.Check(weightsPath, predictor, ConfigFile, remedy);
            predictor.load(weightsPath);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            predictor.Dispose();
            if (e is InvalidDataException) throw;
            throw new InvalidDataException($"{weightsPath} is damaged or does not match {ConfigFile} ({e.Message.Split('\n')[0]}); {remedy}", e);
        }
        predictor.eval();
        return predictor;
    }

    /// <summary>The predictor's configuration file in its folder.</summary>
    public const string ConfigFile = "predictor_config.json";
    /// <summary>The predictor's weights file in its folder.</summary>
    public const string WeightsFile = "predictor.bin";
}
