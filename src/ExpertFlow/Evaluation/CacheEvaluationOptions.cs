using ExpertFlow.Offloading.Policies;
using static TorchSharp.torch;

namespace ExpertFlow.Evaluation;

/// <summary>A cache evaluation sweep: policies x cache shares x batch sizes on one model (see <see cref="CacheEvaluation"/>).</summary>
public sealed record CacheEvaluationOptions
{
    /// <summary>The model folder.</summary>
    public required string ModelFolder { get; init; }
    /// <summary>The predictor folder: its predictor feeds expertflow, its held-out trace gives the prompts (default MODEL/predictor).</summary>
    public string? PredictorFolder { get; init; }
    public Device Device { get; init; } = CPU;
    /// <summary>Policies as <see cref="EvaluatedPolicy"/> names them.</summary>
    public IReadOnlyList<string> Policies { get; init; } = ["on-demand", "lru", "next-layer", "expertflow-no-ts", "expertflow"];
    /// <summary>Cache sizes as shares of all experts, each in (0, 1].</summary>
    public IReadOnlyList<double> CacheShares { get; init; } = [0.1, 0.25, 0.5];
    public IReadOnlyList<int> Batches { get; init; } = [1, 16];
    /// <summary>Tokens generated per prompt.</summary>
    public int NewTokens { get; init; } = 24;
    /// <summary>Dual-batch generations per case, each over 2 x batch fresh prompts (more runs: less timing noise).</summary>
    public int Runs { get; init; } = 2;
    /// <summary>PLEC's use of the forecast.</summary>
    public PredictiveOptions Predictive { get; init; } = new();
    /// <summary>expertflow: predict each batch's next paths on a worker thread while the other batch computes.</summary>
    public bool OverlapPrediction { get; init; }
    /// <summary>The report folder (report.md, results.json, plots).</summary>
    public string OutputFolder { get; init; } = Path.Combine("runs", "cache");
    public bool Plots { get; init; } = true;
    /// <summary>The command line that ran the sweep (for the report).</summary>
    public string Command { get; init; } = "";

    public string PredictorPath => PredictorFolder ?? Path.Combine(ModelFolder, "predictor");

    /// <summary>Checks every value before anything runs; errors say which value is wrong.</summary>
    public void Validate()
    {
        foreach (var p in Policies) EvaluatedPolicy.Parse(p);
        foreach (var f in CacheShares)
            if (!(f > 0 && f <= 1)) throw new ArgumentException($"cache share {f} is outside (0, 1]: give shares of all experts such as 0.1,0.25,0.5");
        foreach (var b in Batches)
            if (b < 1) throw new ArgumentException($"batch size {b} must be at least 1");
        if (Policies.Count == 0 || CacheShares.Count == 0 || Batches.Count == 0) throw new ArgumentException("the sweep needs at least one policy, cache share and batch size");
        if (NewTokens < 2) throw new ArgumentException($"new tokens per prompt must be at least 2 (got {NewTokens})");
        if (Runs < 1) throw new ArgumentException($"runs per case must be at least 1 (got {Runs})");
    }
}
