using ExpertFlow.Model;
using ExpertFlow.Tracing;
using Toolkit.Reporting;
using TorchSharp;

namespace ExpertFlow.Prediction;

/// <summary>A trained predictor with the traces it learned from and its loss curve.</summary>
public sealed record BuiltPredictor(RoutingPathPredictor Predictor, TraceSet Traces, IReadOnlyList<double> Losses, long Parameters, double Seconds);

/// <summary>
/// Makes a routing-path predictor for any supported decoder-only model: traces the model over a corpus with its own
/// tokenizer and forward pass (<see cref="TraceSetBuilder"/>), trains the predictor on the traces, and saves traces,
/// weights (recording the model it was trained for), the loss curve and a training summary into the output folder.
/// </summary>
public static class PredictorBuilder
{
    public static BuiltPredictor Build(PredictorBuildOptions o, IProgress<string>? log = null, IProgress<PredictorTrainingProgress>? training = null)
    {
        o.Validate();
        string folder = o.OutputPath;
        Directory.CreateDirectory(folder);
        TraceSet traces;
        ModelIdentity identity;
        if (o.ReuseTraces)
        {
            traces = TraceSet.Load(folder);
            identity = ModelIdentity.Of(MoeConfig.Load(o.ModelFolder));
            if (traces.Header != new RoutingTraceHeader(identity.MoeLayers, identity.Experts, identity.TopK))
                throw new InvalidDataException($"the traces in '{folder}' ({traces.Header}) are not of this model ({identity}); trace it again");
            traces.CheckVocabulary(identity.VocabSize);
        }
        else
        {
            var tokenizer = ModelTokenizer.Load(o.ModelFolder);
            using var model = MoeModels.Load(o.ModelFolder, new ModelLoadOptions { Device = o.Device });
            identity = ModelIdentity.Of(model);
            traces = TraceSetBuilder.Build(model, tokenizer, o.Tracing, log);
            traces.Save(folder);
            log?.Report($"traced {traces.Train.Sum(t => t.Length)} training and {traces.HeldOut.Sum(t => t.Length)} held-out tokens into {folder}");
        }
        var config = new PredictorConfig
        {
            VocabSize = identity.VocabSize, NumLayers = traces.Header.NumLayers, NumExperts = traces.Header.NumExperts, TopK = traces.Header.TopK,
            ModelDim = o.Dim, Heads = Math.Max(1, o.Dim / 32), FeedForwardDim = 2 * o.Dim, MaxPositions = 2 * o.MaxLength + 1, TrainedFor = identity,
        };
        var predictor = new RoutingPathPredictor(config);
        predictor.to(o.Device);
        long parameters = predictor.parameters().Sum(p => p.numel());
        log?.Report($"predictor: {parameters / 1e6:F2} M parameters ({parameters * 4 / 1e6:F1} MB fp32)");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var losses = PredictorTrainer.Train(predictor, traces.Train, traces.Header, o.Training with { MaxLength = o.MaxLength }, training);
        PredictorTrainer.Save(predictor, folder);
        var x = Enumerable.Range(1, losses.Count).Select(i => (double)i).ToList();
        Charts.Line(Path.Combine(folder, "predictor_loss.png"), "Routing path predictor training (masked BCE)", "step", "BCE", [new Series("BCE", x, losses)]);
        Files.WriteAllTextAtomically(Path.Combine(folder, "predictor_training.json"), System.Text.Json.JsonSerializer.Serialize(new
        {
            steps = losses.Count, planned_steps = o.Training.Steps, seconds = clock.Elapsed.TotalSeconds, final_loss = losses.Count > 0 ? losses[^1] : 0,
            o.Training.BatchSize, parameters,
        }));
        return new BuiltPredictor(predictor, traces, losses, parameters, clock.Elapsed.TotalSeconds);
    }
}
