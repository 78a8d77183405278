namespace ExpertFlow.Demo;

/// <summary>Training settings of the demo model.</summary>
public sealed record DemoTrainingOptions
{
    public int Steps { get; init; } = 400;
    public int BatchSize { get; init; } = 16;
    public int SequenceLength { get; init; } = 128;
    public double LearningRate { get; init; } = 3e-3;
    public int WarmupSteps { get; init; } = 30;
    public double WeightDecay { get; init; } = 0.01;
    public int CheckpointEvery { get; init; } = 100;
    /// <summary>Stop after the step that crosses this much training time; the learning-rate decay then follows the clock or the steps, whichever runs out first. Null: run every step.</summary>
    public TimeSpan? TimeLimit { get; init; }
    public int Seed { get; init; } = 0;
}
