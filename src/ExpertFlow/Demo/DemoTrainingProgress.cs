namespace ExpertFlow.Demo;

/// <summary>One reported training step.</summary>
public sealed record DemoTrainingProgress(int Step, int TotalSteps, double Loss, double AuxLoss, double TokensPerSecond);
