namespace ExpertFlow.Demo;

/// <summary>Result of a training run.</summary>
public sealed record DemoTrainingResult(IReadOnlyList<double> Losses, double ValidationLoss, double Seconds, IReadOnlyList<double> ExpertShare);
