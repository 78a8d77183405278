namespace ExpertFlow.Prediction;

public sealed record PredictorTrainingProgress(int Step, int TotalSteps, double Loss, double TokensPerSecond);
