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
/// EF21 server state: the model x, the workers' copy w of the model (downlink error feedback, EF21-P style:
/// the server sends C(x - w) and both sides set w += that), and g_i for every worker that ever joined.
/// The step uses g = mean of g_i over the workers counted as alive.
/// </summary>
public sealed class Ef21Server
{
    public Ef21Server(float[][] initialModel)
    {
        X = initialModel.Select(a => (float[])a.Clone()).ToArray();
        W = initialModel.Select(a => (float[])a.Clone()).ToArray();
    }

    public float[][] X { get; private set; }
    public float[][] W { get; private set; }
    public SortedDictionary<int, float[][]> G { get; } = new();
    public int[] LayerLengths => X.Select(a => a.Length).ToArray();

    /// <summary>g_i of a worker, created as zeros on first use.</summary>
    public float[][] WorkerState(int worker)
    {
        if (!G.TryGetValue(worker, out var g)) G[worker] = g = X.Select(a => new float[a.Length]).ToArray();
        return g;
    }

    /// <summary>Decodes a worker's uplink message (validating shapes) and applies g_i += c_i.</summary>
    public void ApplyUplink(int worker, ReadOnlySpan<byte> message, IReadOnlyList<string>? names = null)
    {
        var delta = X.Select(a => new float[a.Length]).ToArray();
        ModelCodec.Decode(message, delta, names);   // throws before any state changes
        var g = WorkerState(worker);
        for (int l = 0; l < g.Length; l++) Vector.Add(g[l], delta[l]);
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

    /// <summary>The downlink message C(x - w) with per-layer levels; applies w += decode(message) at once.</summary>
    public byte[] CompressDownlink(IReadOnlyList<double> ratios, Random random)
    {
        var diff = DownlinkDifference();
        byte[] message = ModelCodec.Encode(diff, ratios, random);
        var delta = X.Select(a => new float[a.Length]).ToArray();
        ModelCodec.Decode(message, delta);
        for (int l = 0; l < W.Length; l++) Vector.Add(W[l], delta[l]);
        return message;
    }

    /// <summary>x - w per layer.</summary>
    public float[][] DownlinkDifference()
    {
        var d = new float[X.Length][];
        for (int l = 0; l < X.Length; l++)
        {
            d[l] = new float[X[l].Length];
            for (int i = 0; i < d[l].Length; i++) d[l][i] = X[l][i] - W[l][i];
        }
        return d;
    }

    /// <summary>Replaces the whole state (checkpoint resume).</summary>
    public void Restore(float[][] x, float[][] w, IReadOnlyDictionary<int, float[][]> g)
    {
        X = x; W = w;
        G.Clear();
        foreach (var (k, v) in g) G[k] = v;
    }
}

internal static class Vector
{
    public static void Add(Span<float> target, ReadOnlySpan<float> delta)
    {
        if (target.Length != delta.Length) throw new ArgumentException($"length {delta.Length} added to {target.Length}");
        for (int i = 0; i < target.Length; i++) target[i] += delta[i];
    }
}
