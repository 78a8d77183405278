namespace ExpertFlow.Prediction;

/// <summary>Predictor training settings.</summary>
public sealed record PredictorTrainingOptions
{
    public int Steps { get; init; } = 1500;
    public int BatchSize { get; init; } = 32;
    public int MaxLength { get; init; } = 64;
    public double LearningRate { get; init; } = 2e-3;
    public int WarmupSteps { get; init; } = 50;
    /// <summary>Share of examples that are prefill (prompt = processed tokens); the rest are decode splits.</summary>
    public double PrefillShare { get; init; } = 0.5;
    public int Seed { get; init; } = 0;
    /// <summary>Stop early (after the current step) once training has run this long; null: no limit.</summary>
    public TimeSpan? TimeLimit { get; init; }
}
