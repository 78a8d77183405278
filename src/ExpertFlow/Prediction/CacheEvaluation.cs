using ExpertFlow.Model;
using ExpertFlow.Offloading;
using ExpertFlow.Offloading.Bench;
using ExpertFlow.Offloading.Policies;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace ExpertFlow.Prediction;

/// <summary>One run of the cache evaluation: a policy at a cache size (share of all experts) and batch size.</summary>
public sealed record CacheCase(string Policy, double CacheFraction, int Batch);

/// <summary>What a run measured (generation through the real offloading engine).</summary>
public sealed record CacheResult(CacheCase Case, int Slots, double HitRatio, long Transfers, long DemandTransfers, long PrefetchTransfers, long PrefetchWasted,
    double StallSeconds, double DecodeTokensPerSecond, double PredictorSeconds, double ExpertsPerBatchLayer, bool SameIdsAsResident, string? Error)
{
    /// <summary>Hit ratio of the decode steps only (prefill excluded).</summary>
    public double DecodeHitRatio { get; init; } = 1;
    /// <summary>The device it ran on (for reports).</summary>
    public string Device { get; init; } = "";
}

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

    public List<CacheResult> Run(IReadOnlyList<CacheCase> cases, IReadOnlyList<int[]> promptPool, IProgress<string>? progress = null, Action<IReadOnlyList<CacheResult>>? afterEachCase = null)
    {
        var results = new List<CacheResult>();
        var reference = new Dictionary<int, int[][]>();
        int experts = MoeConfig.Load(modelFolder).NumExperts;
        foreach (int batch in cases.Select(c => c.Batch).Distinct())
        {
            oracles[batch] = new OracleForecast(experts) { Recording = true };
            reference[batch] = Generate(new CacheCase("all-resident", 1, batch), promptPool, out _, out _).OutputIds;
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

    Scheduling.DualBatchResult Generate(CacheCase c, IReadOnlyList<int[]> promptPool, out OffloadStats? stats, out double predictorSeconds)
    {
        var config = MoeConfig.Load(modelFolder);
        var outputs = new List<int[]>();
        double prefill = 0, decode = 0, experts = 0, scheduler = 0; int generated = 0;
        stats = null;
        predictorSeconds = 0;
        PredictorForecast? forecast = null;
        PredictivePolicy? plec = null;
        Func<IOffloadPolicy>? policy = null;
        var (basis, guesses) = PolicyFactory.SplitLookahead(c.Policy);
        bool usesPredictor = basis is "expertflow" or "expertflow-no-ts";
        // the reference run records the true routing, expertflow-oracle replays it
        var oracle = basis == "expertflow-oracle" || c.Policy == "all-resident" ? oracles.GetValueOrDefault(c.Batch) : null;
        bool recording = oracle is { Recording: true };
        if (usesPredictor || basis == "expertflow-oracle")
        {
            if (usesPredictor && predictor == null) throw new ArgumentException($"policy '{basis}' needs a trained predictor (--predictor)");
            if (!usesPredictor && oracle == null) throw new InvalidOperationException("expertflow-oracle needs the all-resident reference run of its batch size first");
            IRoutingForecast source = usesPredictor ? forecast = new PredictorForecast(predictor!) : oracle!;
            policy = () =>
            {
                plec = new PredictivePolicy(source, lookahead: Lookahead, prefetchFloor: PrefetchFloor, crossStep: CrossStep);
                return guesses > 0 ? new LookaheadPolicy(plec, guesses) : plec;
            };
        }
        MoeCausalLM? model = null;
        var provider = c.Policy == "all-resident" ? null
            : new OffloadingExpertProvider(new OffloadOptions(c.Policy, null),
                () => new DeviceFootprint(model!.DenseBytes, model.CacheBytes, ActivationEstimate.Bytes(config, 2 * c.Batch, PromptTokens, PromptTokens + NewTokens, DType)),
                log, policy);
        using (model = (MoeCausalLM)MoeModels.Load(modelFolder, new ModelLoadOptions { Device = device, DType = DType, Experts = provider ?? (IExpertProvider)new ResidentExpertProvider(), Log = log }))
        {
            if (provider != null)
            {
                model.Observers.Add(provider);
                int totalExperts = model.Experts.MoeLayers.Count * model.Experts.NumExperts;
                int slots = Math.Max(MemoryPlan.MinimumSlots, (int)Math.Round(c.CacheFraction * totalExperts));
                long perExpert = OffloadingExpertProvider.LayoutOf(model.Experts).BytesPerExpert;
                model.ResetCache(2 * c.Batch, PromptTokens + NewTokens);
                long footprint = device.type == TorchSharp.DeviceType.CUDA
                    ? model.DenseBytes + model.CacheBytes + ActivationEstimate.Bytes(config, 2 * c.Batch, PromptTokens, PromptTokens + NewTokens, DType)
                    : 0; // CPU: the budget bounds the RAM of cached experts only
                provider.SetBudget(footprint + slots * perExpert + perExpert / 2);
            }
            // The predictor's paths serve the token scheduler (expertflow) and, shared, PLEC's forecasts of the waiting batch.
            var rowPaths = usesPredictor ? new Scheduling.RowPathPredictor(predictor!, share: forecast) : null;
            if (recording) model.Observers.Add(oracle!);
            for (int g = 0; g < Runs; g++)
            {
                var prompts = Enumerable.Range(0, 2 * c.Batch).Select(i => promptPool[(g * 2 * c.Batch + i) % promptPool.Count].Take(PromptTokens).ToArray()).ToArray();
                if (oracle != null) oracle.Run = g;
                var r = Scheduling.DualBatchGenerator.Generate(model, prompts, NewTokens, rowPaths, OverlapPrediction, regroup: basis == "expertflow");
                outputs.AddRange(r.OutputIds);
                prefill += r.PrefillSeconds; decode += r.DecodeSeconds; generated += r.GeneratedTokens; experts += r.ExpertsPerBatchLayer / Runs; scheduler += r.SchedulerSeconds;
            }
            provider?.Finish();
            stats = provider?.Stats;
            if (recording) model.Observers.Remove(oracle!);
            if (plec != null)
                log.LogInformation("{Policy}: decode misses of experts scored at least 0.5 {Predicted}, below {Unpredicted}; {Cross} prefetches for the waiting batch's step",
                    c.Policy, plec.PredictedMisses, plec.UnpredictedMisses, plec.CrossStepPrefetches);
            predictorSeconds = (forecast?.Seconds ?? 0) + scheduler;
        }
        return new Scheduling.DualBatchResult(outputs.ToArray(), prefill, decode, generated, experts, scheduler);
    }
}
