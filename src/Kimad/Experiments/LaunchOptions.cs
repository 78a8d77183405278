namespace Kimad.Experiments;

/// <summary>How traffic is shaped in a local launch.</summary>
public enum ShapingMode { Auto, Tc, Throttle, None }

/// <summary>A local experiment: one server and N workers in this process, each worker behind its own (shaped) link.</summary>
public sealed record LaunchOptions
{
    public int Workers { get; init; } = 4;
    public string Task { get; init; } = "logreg";
    public string Method { get; init; } = "kimad+";
    /// <summary>Level set of the adaptive methods without an @LEVELS of their own (null = topk); see <see cref="Compression.LevelSet"/>.</summary>
    public string? Levels { get; init; }
    /// <summary>Trace files, assigned to workers round-robin; none = no shaping.</summary>
    public IReadOnlyList<string> Traces { get; init; } = [];
    /// <summary>Worker i replays its trace shifted by i x this many seconds (links that do not move in lockstep).</summary>
    public double TraceStaggerSeconds { get; init; }
    public required string OutputDirectory { get; init; }
    public long Rounds { get; init; } = 200;
    public double? MaxWallSeconds { get; init; }
    public double TimeBudgetMs { get; init; } = 100;
    /// <summary>&gt; 0: compute-aware budget (R x smoothed compute time), replacing <see cref="TimeBudgetMs"/>.</summary>
    public double CommRatio { get; init; }
    /// <summary>Estimate a link's two directions apart (default: shared bottleneck).</summary>
    public bool IndependentDirections { get; init; }
    public float? LearningRate { get; init; }
    public int BatchSize { get; init; } = 64;
    public int Seed { get; init; }
    public int EvalEvery { get; init; } = 10;
    /// <summary>Every worker's round compute takes at least this long (ms): fixes the compute/link balance (0 = off).</summary>
    public double MinComputeMs { get; init; }
    /// <summary>Fashion-MNIST folder for the cnn task (null: the default).</summary>
    public string? DataDirectory { get; init; }
    public ShapingMode Shaping { get; init; } = ShapingMode.Auto;
    public TimeSpan RoundTimeout { get; init; } = TimeSpan.FromSeconds(20);
    public TimeSpan RunTimeout { get; init; } = TimeSpan.FromMinutes(10);
    public int Port { get; init; }
}
