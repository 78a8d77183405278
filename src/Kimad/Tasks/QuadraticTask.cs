namespace Kimad.Tasks;

/// <summary>
/// f(x) = (1/n) sum_i f_i(x), f_i(x) = 1/2 sum_j a_ij (x_j - c_ij)^2 with worker-specific curvatures a and
/// centres c, split into three "layers" of different sizes and scales (so per-layer allocation matters).
/// The gradient is exact; the reported loss is f(x) - f(x*) over all workers (x* is known in closed form).
/// </summary>
public sealed class QuadraticTask : ITrainingTask
{
    readonly int[] lengths = [2000, 500, 100];
    readonly int shards = 64;             // data of 64 virtual workers; worker i of n averages its share
    readonly float[][][] a, c;            // [shard][layer][j]
    readonly double[][] optimum;
    readonly double optimalValue;

    public QuadraticTask(TaskOptions options)
    {
        var rng = new Random(options.Seed + 1234);
        double[] layerScale = [1.0, 4.0, 0.25];
        a = new float[shards][][]; c = new float[shards][][];
        for (int s = 0; s < shards; s++)
        {
            a[s] = new float[lengths.Length][]; c[s] = new float[lengths.Length][];
            for (int l = 0; l < lengths.Length; l++)
            {
                a[s][l] = new float[lengths[l]]; c[s][l] = new float[lengths[l]];
                for (int j = 0; j < lengths[l]; j++)
                {
                    a[s][l][j] = (float)(layerScale[l] * (0.1 + rng.NextDouble()));
                    c[s][l][j] = (float)(rng.NextDouble() * 2 - 1) * (j % 10 == 0 ? 5f : 1f);
                }
            }
        }
        optimum = new double[lengths.Length][];
        for (int l = 0; l < lengths.Length; l++)
        {
            optimum[l] = new double[lengths[l]];
            for (int j = 0; j < lengths[l]; j++)
            {
                double sa = 0, sac = 0;
                for (int s = 0; s < shards; s++) { sa += a[s][l][j]; sac += a[s][l][j] * c[s][l][j]; }
                optimum[l][j] = sac / sa;
            }
        }
        optimalValue = Value(optimum.Select(o => o.Select(v => (float)v).ToArray()).ToArray());
    }

    public string Name => "quadratic";
    public IReadOnlyList<string> LayerNames => ["block0", "block1", "block2"];
    public IReadOnlyList<int> LayerLengths => lengths;
    public float DefaultLearningRate => 0.05f;   // 0.1 diverges slowly with TopK 10% in both directions (measured)

    public float[][] InitialParameters() => lengths.Select(n => new float[n]).ToArray();

    public double Gradient(float[][] parameters, float[][] gradient, int worker, int workers, long round)
    {
        double loss = 0;
        foreach (var g in gradient) Array.Clear(g);
        for (int s = worker; s < shards; s += workers)
        {
            for (int l = 0; l < lengths.Length; l++)
                for (int j = 0; j < lengths[l]; j++)
                {
                    double d = parameters[l][j] - c[s][l][j];
                    gradient[l][j] += (float)(a[s][l][j] * d);
                    loss += 0.5 * a[s][l][j] * d * d;
                }
        }
        // Weight n/64 per shard (not 1/count): the mean over workers is then exactly the mean over all 64 shards,
        // so the workers jointly minimise f whatever n is.
        float weight = (float)workers / shards;
        foreach (var g in gradient) for (int j = 0; j < g.Length; j++) g[j] *= weight;
        return loss * weight;
    }

    double Value(float[][] x)
    {
        double v = 0;
        for (int s = 0; s < shards; s++)
            for (int l = 0; l < lengths.Length; l++)
                for (int j = 0; j < lengths[l]; j++) { double d = x[l][j] - c[s][l][j]; v += 0.5 * a[s][l][j] * d * d; }
        return v / shards;
    }

    public Evaluation Evaluate(float[][] parameters) => new(Value(parameters) - optimalValue, double.NaN);

    public void Dispose() { }
}
