using Kimad.Compression;

namespace Kimad.ErrorFeedback;

/// <summary>
/// EF21 worker state (Richtarik, Sokolov, Fatkhullin 2021): the worker keeps g_i, sends c_i = C(grad_i - g_i)
/// and, once the server has accepted c_i, sets g_i += c_i (the decoded message, so both sides agree bit for bit).
/// </summary>
public sealed class Ef21Worker
{
    public Ef21Worker(IReadOnlyList<int> layerLengths) => G = layerLengths.Select(n => new float[n]).ToArray();

    /// <summary>g_i, one array per layer.</summary>
    public float[][] G { get; private set; }

    /// <summary>grad - g_i per layer (the vector EF21 compresses).</summary>
    public float[][] Difference(IReadOnlyList<float[]> gradient)
    {
        var d = new float[G.Length][];
        for (int l = 0; l < G.Length; l++)
        {
            if (gradient[l].Length != G[l].Length) throw new ArgumentException($"gradient layer {l} has {gradient[l].Length} elements, EF21 state has {G[l].Length}");
            d[l] = new float[G[l].Length];
            for (int i = 0; i < d[l].Length; i++) d[l][i] = gradient[l][i] - G[l][i];
        }
        return d;
    }

    /// <summary>Compresses grad - g_i with per-layer levels; returns the message (not yet applied to g_i).</summary>
    public byte[] Compress(IReadOnlyList<float[]> gradient, IReadOnlyList<double> ratios, Random random) =>
        ModelCodec.Encode(Difference(gradient), ratios, random);

    /// <summary>Compresses grad - g_i with per-layer compressors; returns the message (not yet applied to g_i).</summary>
    public byte[] Compress(IReadOnlyList<float[]> gradient, IReadOnlyList<ICompressor> compressors, Random random) =>
        ModelCodec.Encode(Difference(gradient), compressors, random);

    /// <summary>g_i += decode(message), after the server accepted it.</summary>
    public void Commit(ReadOnlySpan<byte> message)
    {
        var delta = G.Select(g => new float[g.Length]).ToArray();
        ModelCodec.Decode(message, delta);
        for (int l = 0; l < G.Length; l++) Vector.Add(G[l], delta[l]);
    }

    /// <summary>Replaces g_i (rejoin: the server's copy is authoritative).</summary>
    public void Restore(float[][] g) => G = g.Select(a => (float[])a.Clone()).ToArray();
}

/// <summary>
/// EF21 server state: the model x, g_i for every worker that ever joined, and per worker the copy w_i of the model
/// that worker computes its gradients at (downlink error feedback, EF21-P style, one copy per link: the server
/// sends C_i(x - w_i) to worker i and both sides set w_i += that). Keeping one w_i per worker lets every link's
/// downlink follow that link's bandwidth: a slow link gets a small message without shrinking the others'.
/// The step uses g = mean of g_i over the workers counted as alive.
/// </summary>
public sealed class Ef21Server
{
    public Ef21Server(float[][] initialModel) => X = initialModel.Select(a => (float[])a.Clone()).ToArray();

    public float[][] X { get; private set; }
    /// <summary>w_i: the model copy of each worker, as both sides hold it.</summary>
    public SortedDictionary<int, float[][]> W { get; } = new();
    public SortedDictionary<int, float[][]> G { get; } = new();
    public int[] LayerLengths => X.Select(a => a.Length).ToArray();

    /// <summary>g_i of a worker, created as zeros on first use.</summary>
    public float[][] WorkerState(int worker)
    {
        if (!G.TryGetValue(worker, out var g)) G[worker] = g = X.Select(a => new float[a.Length]).ToArray();
        return g;
    }

    /// <summary>w_i of a worker; it exists once the worker has received the full state (<see cref="SyncWorkerModel"/>).</summary>
    public float[][] WorkerModel(int worker) => W.TryGetValue(worker, out var w) ? w
        : throw new InvalidOperationException($"worker {worker} has no model copy yet: send it the full state first");

    /// <summary>Resets w_i to x (the worker is about to receive the full state) and returns it.</summary>
    public float[][] SyncWorkerModel(int worker) => W[worker] = CloneLayers(X);

    /// <summary>Decodes a worker's uplink message (validating shapes) and applies g_i += c_i; returns c_i.</summary>
    public float[][] ApplyUplink(int worker, ReadOnlySpan<byte> message, IReadOnlyList<string>? names = null)
    {
        var delta = X.Select(a => new float[a.Length]).ToArray();
        ModelCodec.Decode(message, delta, names);   // throws before any state changes
        var g = WorkerState(worker);
        for (int l = 0; l < g.Length; l++) Vector.Add(g[l], delta[l]);
        return delta;
    }

    /// <summary>
    /// Gradient exchange: the update of g = (1/n) sum_i g_i from this round's messages, (1/n) sum of c_i over the workers
    /// that pushed (in worker order), encoded exactly; X (here g) += the decoded update, so the server's g and every
    /// worker's equal bit for bit. Returns the message.
    /// </summary>
    public byte[] AggregateUplinks(IEnumerable<KeyValuePair<int, float[][]>> messages, int workers)
    {
        var sum = X.Select(a => new float[a.Length]).ToArray();
        foreach (var (_, c) in messages.OrderBy(m => m.Key))
            for (int l = 0; l < sum.Length; l++) Vector.Add(sum[l], c[l]);
        float scale = 1f / workers;
        foreach (var layer in sum) for (int i = 0; i < layer.Length; i++) layer[i] *= scale;
        byte[] message = ModelCodec.EncodeExact(sum);
        var decoded = X.Select(a => new float[a.Length]).ToArray();
        ModelCodec.Decode(message, decoded);
        for (int l = 0; l < X.Length; l++) Vector.Add(X[l], decoded[l]);
        return message;
    }

    /// <summary>x -= lr * mean(g_i over <paramref name="alive"/>). Returns false (no step) when nobody is alive.</summary>
    public bool Step(IReadOnlyCollection<int> alive, float learningRate)
    {
        if (alive.Count == 0) return false;
        for (int l = 0; l < X.Length; l++)
        {
            var x = X[l];
            float scale = learningRate / alive.Count;
            foreach (int i in alive)
            {
                var g = WorkerState(i)[l];
                for (int k = 0; k < x.Length; k++) x[k] -= scale * g[k];
            }
        }
        return true;
    }

    /// <summary>Worker i's downlink message C(x - w_i) with per-layer levels; applies w_i += decode(message) at once.
    /// <paramref name="difference"/>: x - w_i when the caller already has it (<see cref="DownlinkDifference"/>).</summary>
    public byte[] CompressDownlink(int worker, IReadOnlyList<double> ratios, Random random, float[][]? difference = null) =>
        CompressDownlink(worker, ratios.Select(CompressionLevels.For).ToArray(), random, difference);

    /// <summary>The same with per-layer compressors.</summary>
    public byte[] CompressDownlink(int worker, IReadOnlyList<ICompressor> compressors, Random random, float[][]? difference = null)
    {
        byte[] message = ModelCodec.Encode(difference ?? DownlinkDifference(worker), compressors, random);
        var w = WorkerModel(worker);
        var delta = X.Select(a => new float[a.Length]).ToArray();
        ModelCodec.Decode(message, delta);
        for (int l = 0; l < w.Length; l++) Vector.Add(w[l], delta[l]);
        return message;
    }

    /// <summary>x - w_i per layer.</summary>
    public float[][] DownlinkDifference(int worker)
    {
        var w = WorkerModel(worker);
        var d = new float[X.Length][];
        for (int l = 0; l < X.Length; l++)
        {
            d[l] = new float[X[l].Length];
            for (int i = 0; i < d[l].Length; i++) d[l][i] = X[l][i] - w[l][i];
        }
        return d;
    }

    /// <summary>Replaces the whole state (checkpoint resume).</summary>
    public void Restore(float[][] x, IReadOnlyDictionary<int, float[][]> w, IReadOnlyDictionary<int, float[][]> g)
    {
        X = x;
        W.Clear();
        foreach (var (k, v) in w) W[k] = v;
        G.Clear();
        foreach (var (k, v) in g) G[k] = v;
    }

    static float[][] CloneLayers(float[][] layers) => layers.Select(a => (float[])a.Clone()).ToArray();
}

internal static class Vector
{
    public static void Add(Span<float> target, ReadOnlySpan<float> delta)
    {
        if (target.Length != delta.Length) throw new ArgumentException($"length {delta.Length} added to {target.Length}");
        for (int i = 0; i < target.Length; i++) target[i] += delta[i];
    }
}
