namespace Kimad.Training;

/// <summary>Settings of a parameter server run.</summary>
public sealed record ServerOptions
{
    public string Method { get; init; } = "kimad+";
    /// <summary>Level set of the adaptive methods (<see cref="Compression.LevelSet"/>: topk, randk, qsgd, natural, sign, fp16,
    /// bf16, powersgd, comma-separated, or mixed) unless the method names its own after '@'; null = topk.</summary>
    public string? Levels { get; init; }
    /// <summary>Method for the downlink (server to workers); null = the same as <see cref="Method"/>, "uncompressed" = off.</summary>
    public string? DownlinkMethod { get; init; }
    /// <summary>Communication time budget per round and direction; byte budget = estimated bandwidth x this.</summary>
    public double TimeBudgetMs { get; init; } = 200;
    /// <summary>&gt; 0: compute-aware budget, time budget = this x the smoothed compute time of a round (replaces <see cref="TimeBudgetMs"/>).</summary>
    public double CommRatio { get; init; }
    public int Discretization { get; init; } = 1000;
    public long Rounds { get; init; } = 100;
    /// <summary>Stop after the round in which training wall time (evaluation excluded) reaches this many seconds.</summary>
    public double? MaxWallSeconds { get; init; }
    public float? LearningRate { get; init; }
    public int ExpectedWorkers { get; init; } = 1;
    /// <summary>A round closes with the workers that pushed once this much time has passed since it opened.</summary>
    public TimeSpan RoundTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(60);
    public string? CheckpointPath { get; init; }
    public bool Resume { get; init; }
    public string? MetricsDirectory { get; init; }
    public int EvalEvery { get; init; } = 10;
    public long MaxMessageBytes { get; init; } = 64L << 20;
    public int ChunkBytes { get; init; } = 64 << 10;
    /// <summary>
    /// False (default): the two directions of a worker's link share one bottleneck, so each side sizes a message for
    /// the slower of the two directions' current estimates: a drop seen on the pull shrinks the push that follows, and
    /// a drop seen on a push (timed by the server) shrinks the next pull. Without it, each direction learns of a drop
    /// only from its own next transfer, a message still sized for the fast link. True: directions are estimated apart.
    /// </summary>
    public bool IndependentDirections { get; init; }
    public int Seed { get; init; }
    /// <summary>
    /// Gradient exchange for training loops that own their model and optimizer (<see cref="Transport.KimadCommHook"/>): the
    /// server holds g = (1/n) sum of the workers' EF21 states g_i instead of a model, and each round sends every worker
    /// the same exact update of g (the mean of the round's compressed messages), so all workers' optimizers see the same
    /// gradient. No evaluation; one extra round at the end delivers the last update.
    /// </summary>
    public bool GradientExchange { get; init; }
    /// <summary>Downlink estimate used before any worker has reported one (bit/s).</summary>
    public double InitialBitsPerSecond { get; init; } = 0;
}
