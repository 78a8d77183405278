namespace Kimad.Tasks;

/// <summary>
/// Binary logistic regression on synthetic data: 256 features (x ~ N(0,1)), labels from a sparse true
/// weight vector plus label noise; 8192 training examples sharded round-robin, 2048 held out.
/// Layers: weights, bias. Minibatch SGD gradients.
/// </summary>
public sealed class LogisticRegressionTask : ITrainingTask
{
    const int Features = 256, TrainCount = 8192, TestCount = 2048;
    readonly float[] trainX, testX;
    readonly float[] trainY, testY;
    readonly int batch;
    readonly int seed;

    public LogisticRegressionTask(TaskOptions options)
    {
        batch = options.BatchSize;
        seed = options.Seed;
        var rng = new Random(options.Seed + 99);
        var w = new double[Features];
        for (int j = 0; j < Features; j++) w[j] = j % 8 == 0 ? Gaussian(rng) * 2 : Gaussian(rng) * 0.1;
        (trainX, trainY) = Make(TrainCount, rng, w);
        (testX, testY) = Make(TestCount, rng, w);
    }

    static (float[], float[]) Make(int count, Random rng, double[] w)
    {
        var x = new float[count * Features];
        var y = new float[count];
        for (int i = 0; i < count; i++)
        {
            double z = 0;
            for (int j = 0; j < Features; j++) { float v = (float)Gaussian(rng); x[i * Features + j] = v; z += v * w[j]; }
            double p = 1 / (1 + Math.Exp(-z));
            y[i] = rng.NextDouble() < p ? 1f : 0f;
        }
        return (x, y);
    }

    static double Gaussian(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    public string Name => "logreg";
    public IReadOnlyList<string> LayerNames => ["weight", "bias"];
    public IReadOnlyList<int> LayerLengths => [Features, 1];
    public float DefaultLearningRate => 0.5f;

    public float[][] InitialParameters() => [new float[Features], new float[1]];

    public double Gradient(float[][] parameters, float[][] gradient, int worker, int workers, long round)
    {
        Array.Clear(gradient[0]); Array.Clear(gradient[1]);
        int shardSize = (TrainCount - worker + workers - 1) / workers;
        var rng = new Random(HashCode.Combine(seed, worker, round));
        double loss = 0;
        for (int b = 0; b < batch; b++)
        {
            int i = worker + workers * rng.Next(shardSize);
            double p = Predict(parameters, trainX.AsSpan(i * Features, Features));
            loss += Loss(p, trainY[i]);
            float err = (float)(p - trainY[i]) / batch;
            var xi = trainX.AsSpan(i * Features, Features);
            for (int j = 0; j < Features; j++) gradient[0][j] += err * xi[j];
            gradient[1][0] += err;
        }
        return loss / batch;
    }

    static double Predict(float[][] p, ReadOnlySpan<float> x)
    {
        double z = p[1][0];
        for (int j = 0; j < Features; j++) z += p[0][j] * x[j];
        return 1 / (1 + Math.Exp(-z));
    }

    static double Loss(double p, float y) => -(y * Math.Log(Math.Max(p, 1e-12)) + (1 - y) * Math.Log(Math.Max(1 - p, 1e-12)));

    public Evaluation Evaluate(float[][] parameters)
    {
        double loss = 0; int correct = 0;
        for (int i = 0; i < TestCount; i++)
        {
            double p = Predict(parameters, testX.AsSpan(i * Features, Features));
            loss += Loss(p, testY[i]);
            if ((p >= 0.5) == (testY[i] >= 0.5)) correct++;
        }
        return new Evaluation(loss / TestCount, (double)correct / TestCount);
    }

    public void Dispose() { }
}
