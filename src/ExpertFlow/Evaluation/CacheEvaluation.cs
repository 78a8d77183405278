using ExpertFlow.Model;
using ExpertFlow.Offloading;
using ExpertFlow.Prediction;
using ExpertFlow.Scheduling;
using ExpertFlow.Offloading.Policies;
using ExpertFlow.Tracing;
using Microsoft.Extensions.Logging;
using TorchSharp;
using static TorchSharp.torch;

namespace ExpertFlow.Evaluation;

/// <summary>
/// Runs the demo model through ef-offload's engine on held-out GCIDE prompts for each policy, cache size and
/// batch size B: greedy generation of <see cref="NewTokens"/> tokens for 2B prompts decoded as two batches of
/// B in flight (<see cref="Scheduling.DualBatchGenerator"/>), stats from the engine. "expertflow" is PLEC
/// (<see cref="PredictivePolicy"/> fed by <see cref="PredictorForecast"/>) with the token scheduler regrouping
/// the two batches every step; "expertflow-no-ts" is PLEC with the batches in arrival order; "expertflow-oracle" is
/// PLEC fed by the true routing recorded from the all-resident run (<see cref="OracleForecast"/>: a perfect, free
/// predictor; arrival order), the bound for what better prediction could give. Every run's output ids are compared
/// with the all-resident run of the same batch size.
/// </summary>
public sealed class CacheEvaluation(string modelFolder, RoutingPathPredictor? predictor, Device device, ILogger log)
{
    public int NewTokens { get; init; } = 24;
    public int PromptTokens { get; init; } = 24;
    /// <summary>Dual-batch runs per case (each over 2B fresh prompts; stats summed).</summary>
    public int Runs { get; init; } = 2;
    public ScalarType DType { get; init; } = ScalarType.Float32;
    /// <summary>PLEC: layers ahead whose predicted experts are prefetched.</summary>
    public int Lookahead { get; init; } = 2;
    /// <summary>PLEC: experts scored below this are not prefetched (<see cref="PredictivePolicy"/>'s prefetch floor).</summary>
    public float PrefetchFloor { get; init; } = PredictivePolicy.DefaultPrefetchFloor;
    /// <summary>expertflow: predict the first batch's next paths while the second batch computes (DualBatchGenerator).
    /// Off by default: slower on a 2-core CPU at batch 16 (the threads compete with the copy threads).</summary>
    public bool OverlapPrediction { get; init; }
    /// <summary>PLEC: prefetch the waiting batch's first layers during the current step (<see cref="PredictivePolicy"/>).</summary>
    public bool CrossStep { get; init; } = true;

    // The true routing of each batch size's reference run, for expertflow-oracle.
    readonly Dictionary<int, OracleForecast> oracles = [];

    /// <summary>Held-out prompts shorter than this are not used.</summary>
    public const int MinimumPromptTokens = 24;

    /// <summary>
    /// Runs a whole sweep: validates it, reads the predictor (when present) and held-out prompts of its folder, runs every
    /// case after the all-resident references, and writes results.json (after every case), report.md and the plots.
    /// </summary>
    public static List<CacheResult> Run(CacheEvaluationOptions o, ILogger log, IProgress<string>? progress = null)
    {
        o.Validate();
        var identity = ModelIdentity.Of(MoeConfig.Load(o.ModelFolder));
        var predictor = File.Exists(Path.Combine(o.PredictorPath, PredictorTrainer.ConfigFile)) ? PredictorTrainer.Load(o.PredictorPath, identity) : null;
        try
        {
            // the predictor stays on the CPU, as in generate and serve: its decode steps run in managed code there
            // (IncrementalPredictor), tens of microseconds a token, beside the GPU's work instead of in its queue
            var (header, heldOut) = TraceSet.LoadHeldOut(o.PredictorPath);
            string heldOutPath = Path.Combine(o.PredictorPath, TraceSet.HeldOutFile);
            if (header.NumLayers != identity.MoeLayers || header.NumExperts != identity.Experts)
                throw new InvalidDataException($"'{heldOutPath}' is a trace of {header.NumLayers} MoE layers x {header.NumExperts} experts, not of this model ({identity}); " +
                    "record the model's traces with 'expertflow trace' or use its own predictor folder");
            TraceSet.CheckVocabulary(heldOut, identity.VocabSize, heldOutPath);
            var prompts = heldOut.Where(s => s.Length >= MinimumPromptTokens).Select(s => s.TokenIds).ToList();
            if (prompts.Count == 0) throw new InvalidDataException($"{o.PredictorPath}/{TraceSet.HeldOutFile} holds no sequence of {MinimumPromptTokens} tokens to prompt with");
            var cases = new List<CacheCase>();
            foreach (int b in o.Batches) foreach (double f in o.CacheShares) foreach (var p in o.Policies) cases.Add(new CacheCase(p, f, b));
            foreach (int b in o.Batches) cases.Add(new CacheCase(EvaluatedPolicy.AllResident, 1, b));
            var eval = new CacheEvaluation(o.ModelFolder, predictor, o.Device, log)
            {
                NewTokens = o.NewTokens, Runs = o.Runs, Lookahead = o.Predictive.Lookahead, PrefetchFloor = o.Predictive.PrefetchFloor,
                CrossStep = o.Predictive.CrossStep, OverlapPrediction = o.OverlapPrediction,
            };
            string device = o.Device.ToString();
            var results = eval.Run(cases, prompts, progress, partial => CacheEvaluationReport.WriteResults(o.OutputFolder, partial, device));
            CacheEvaluationReport.WriteResults(o.OutputFolder, results, device);
            CacheEvaluationReport.WriteMarkdown(o.OutputFolder, results, device, o.Command);
            if (o.Plots) CacheEvaluationReport.Plot(o.OutputFolder, results, device);
            return results;
        }
        finally
        {
            predictor?.Dispose();
        }
    }

    public List<CacheResult> Run(IReadOnlyList<CacheCase> cases, IReadOnlyList<int[]> promptPool, IProgress<string>? progress = null, Action<IReadOnlyList<CacheResult>>? afterEachCase = null)
    {
        var results = new List<CacheResult>();
        var reference = new Dictionary<int, int[][]>();
        int experts = MoeConfig.Load(modelFolder).NumExperts;
        foreach (var c in cases) EvaluatedPolicy.Parse(c.Policy); // every name checked before the first run
        foreach (int batch in cases.Select(c => c.Batch).Distinct())
        {
            oracles[batch] = new OracleForecast(experts) { Recording = true };
            reference[batch] = Generate(new CacheCase(EvaluatedPolicy.AllResident, 1, batch), promptPool, out _, out _).OutputIds;
            oracles[batch].Recording = false;
        }
        foreach (var c in cases)
        {
            progress?.Report($"{c.Policy}, cache {c.CacheFraction:P0}, batch {c.Batch}");
            try
            {
                var result = Generate(c, promptPool, out var stats, out double predictorSeconds);
                bool same = reference[c.Batch].Zip(result.OutputIds).All(p => p.First.SequenceEqual(p.Second));
                results.Add(new CacheResult(c, stats?.Plan.Slots ?? 0, stats?.HitRatio ?? 1, stats == null ? 0 : stats.DemandTransfers + stats.PrefetchTransfers,
                    stats?.DemandTransfers ?? 0, stats?.PrefetchTransfers ?? 0, stats?.PrefetchWasted ?? 0, stats?.StallSeconds ?? 0,
                    result.DecodeTokensPerSecond, predictorSeconds, result.ExpertsPerBatchLayer, same, null) { DecodeHitRatio = stats?.DecodeHitRatio ?? 1 });
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException)
            {
                log.LogWarning("{Case}: {Message}", c, e.Message);
                results.Add(new CacheResult(c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, false, e.Message.Split('\n')[0]));
            }
            afterEachCase?.Invoke(results);
        }
        return results;
    }

    DualBatchResult Generate(CacheCase c, IReadOnlyList<int[]> promptPool, out OffloadStats? stats, out double predictorSeconds)
    {
        var policy = EvaluatedPolicy.Parse(c.Policy);
        var outputs = new List<int[]>();
        double prefill = 0, decode = 0, experts = 0, scheduler = 0; int generated = 0;
        stats = null;
        predictorSeconds = 0;
        using var paths = policy.Forecast == ForecastSource.Predictor
            ? new IncrementalPredictor(predictor ?? throw new ArgumentException($"policy '{c.Policy}' needs a trained predictor")) : null;
        // the reference run records the true routing, expertflow-oracle replays it
        var oracle = policy.Forecast == ForecastSource.Oracle || policy.Spec == null ? oracles.GetValueOrDefault(c.Batch) : null;
        bool recording = oracle is { Recording: true };
        IRoutingForecast? source = null;
        if (policy.Forecast == ForecastSource.Predictor)
            source = new PredictorForecast(paths!);
        else if (policy.Forecast == ForecastSource.Oracle)
            source = oracle ?? throw new InvalidOperationException("expertflow-oracle needs the all-resident reference run of its batch size first");
        var load = new ModelLoadOptions { Device = device, DType = DType, Log = log };
        var offloaded = policy.Spec is { } spec
            ? OffloadedModel.Load(modelFolder, load,
                new OffloadOptions(spec, MemoryBudget.Share(c.CacheFraction)) { Predictive = new PredictiveOptions(Lookahead, PrefetchFloor, CrossStep) },
                Workload.For(2 * c.Batch, PromptTokens, NewTokens), new OffloadServices { Forecast = source, Log = log })
            : null;
        using (var model = offloaded?.Model ?? MoeModels.Load(modelFolder, load))
        {
            // The predictor's paths serve the token scheduler (expertflow) and, shared, PLEC's forecasts of the waiting batch.
            var rowPaths = paths != null ? new RowPathPredictor(paths) : null;
            if (recording) model.Observers.Add(oracle!);
            for (int g = 0; g < Runs; g++)
            {
                var prompts = Enumerable.Range(0, 2 * c.Batch).Select(i => promptPool[(g * 2 * c.Batch + i) % promptPool.Count].Take(PromptTokens).ToArray()).ToArray();
                if (oracle != null) oracle.Run = g;
                var r = DualBatchGenerator.Generate(model, prompts, NewTokens, rowPaths, OverlapPrediction, regroup: policy.TokenScheduler);
                outputs.AddRange(r.OutputIds);
                prefill += r.PrefillSeconds; decode += r.DecodeSeconds; generated += r.GeneratedTokens; experts += r.ExpertsPerBatchLayer / Runs; scheduler += r.SchedulerSeconds;
            }
            offloaded?.Provider.Finish();
            stats = offloaded?.Provider.Stats;
            if (recording) model.Observers.Remove(oracle!);
            var plec = offloaded?.Provider.Offloaded?.Engine.Policy switch { PredictivePolicy p => p, LookaheadPolicy { Inner: PredictivePolicy p } => p, _ => null };
            if (plec != null)
                log.LogInformation("{Policy}: decode misses of experts scored at least 0.5 {Predicted}, below {Unpredicted}; {Cross} prefetches for the waiting batch's step",
                    c.Policy, plec.PredictedMisses, plec.UnpredictedMisses, plec.CrossStepPrefetches);
            predictorSeconds = paths?.Seconds ?? 0;
        }
        return new DualBatchResult(outputs.ToArray(), prefill, decode, generated, experts, scheduler);
    }
}
