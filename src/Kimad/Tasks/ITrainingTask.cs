namespace Kimad.Tasks;

/// <summary>Evaluation of the model on held-out (or, for synthetic tasks, the full) data.</summary>
public sealed record Evaluation(double Loss, double Accuracy);

/// <summary>
/// A data-parallel training problem. Parameters travel as one float array per layer. Every process builds
/// the same task from the same options (synthetic data is generated from the seed), and worker i of n
/// trains on its own shard.
/// </summary>
public interface ITrainingTask : IDisposable
{
    string Name { get; }
    IReadOnlyList<string> LayerNames { get; }
    IReadOnlyList<int> LayerLengths { get; }
    float DefaultLearningRate { get; }

    /// <summary>Identifies the model (task and shapes): messages for another model are rejected.</summary>
    string ModelVersion => $"{Name}/" + string.Join("x", LayerLengths);

    /// <summary>Rows of each layer's matrix view (the first dimension of a tensor with two or more; 1 for a vector), used by
    /// low-rank compression.</summary>
    IReadOnlyList<int> LayerRows => LayerLengths.Select(_ => 1).ToArray();

    float[][] InitialParameters();

    /// <summary>Stochastic gradient on worker <paramref name="worker"/>'s shard at <paramref name="parameters"/>; returns the minibatch loss.</summary>
    double Gradient(float[][] parameters, float[][] gradient, int worker, int workers, long round);

    /// <summary>The minibatch loss of round <paramref name="round"/> on worker <paramref name="worker"/>'s shard at
    /// <paramref name="parameters"/>, the same minibatch <see cref="Gradient"/> uses (default: through Gradient).</summary>
    double Loss(float[][] parameters, int worker, int workers, long round) =>
        Gradient(parameters, LayerLengths.Select(n => new float[n]).ToArray(), worker, workers, round);

    Evaluation Evaluate(float[][] parameters);
}

/// <summary>Options shared by the tasks.</summary>
public sealed record TaskOptions(int Seed = 0, int BatchSize = 64, string? DataDirectory = null, int EvalExamples = 2000, int TrainExamples = 0);

/// <summary>Builds tasks by name.</summary>
public static class TrainingTasks
{
    public static readonly string[] Names = ["quadratic", "logreg", "cnn"];

    public static ITrainingTask Create(string name, TaskOptions options) => name.ToLowerInvariant() switch
    {
        "quadratic" => new QuadraticTask(options),
        "logreg" => new LogisticRegressionTask(options),
        "cnn" => new FashionMnistCnnTask(options),
        var shape when shape.StartsWith("shape:", StringComparison.Ordinal) => ModelShape.Parse(shape),
        _ => throw new ArgumentException($"unknown task '{name}': use {string.Join(", ", Names)} (or shape:L1,L2,... for a gradient-exchange server)"),
    };
}
