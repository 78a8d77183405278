using Kimad.Compression;
using Kimad.ErrorFeedback;
using Kimad.Tasks;
using Kimad.Training;

namespace Kimad.Tests;

public class Ef21Tests
{
    [Fact]
    public void WorkerAndServerStateAgreeAfterEveryRound()
    {
        int[] lengths = [50, 7];
        var worker = new Ef21Worker(lengths);
        var server = new Ef21Server(lengths.Select(n => new float[n]).ToArray());
        var random = new Random(1);
        for (int t = 0; t < 5; t++)
        {
            var grad = lengths.Select(n => Enumerable.Range(0, n).Select(_ => (float)random.NextDouble()).ToArray()).ToArray();
            var before = worker.G.Select(g => (float[])g.Clone()).ToArray();
            var diff = worker.Difference(grad);
            for (int l = 0; l < lengths.Length; l++)
                for (int i = 0; i < lengths[l]; i++) Assert.Equal(grad[l][i] - before[l][i], diff[l][i]);   // c = C(grad - g)
            var msg = worker.Compress(grad, [0.1, 1.0], random);
            worker.Commit(msg);
            server.ApplyUplink(0, msg);
            for (int l = 0; l < lengths.Length; l++) Assert.Equal(worker.G[l], server.WorkerState(0)[l]);       // g_i identical on both sides
            for (int i = 0; i < 7; i++) Assert.Equal(grad[1][i], worker.G[1][i], 1e-6f);   // identity layer: g_i = grad (up to float rounding)
        }
    }

    [Fact]
    public void ServerStepsWithTheMeanOfTheWorkersStates()
    {
        var server = new Ef21Server([[1f, 1f]]);
        server.WorkerState(0)[0][0] = 2; server.WorkerState(0)[0][1] = 4;
        server.WorkerState(1)[0][0] = 4; server.WorkerState(1)[0][1] = 0;
        server.WorkerState(2)[0][0] = 100;   // not in the step's set: ignored
        Assert.True(server.Step([0, 1], 0.5f));
        Assert.Equal([1 - 0.5f * 3, 1 - 0.5f * 2], server.X[0]);
        Assert.False(server.Step([], 0.5f));
    }

    [Fact]
    public void DownlinkErrorFeedbackTracksTheModel()
    {
        var server = new Ef21Server([new float[100]]);
        server.SyncWorkerModel(0);   // the worker's first pull: the full state (zeros here)
        var random = new Random(3);
        var workerCopy = new float[100];
        for (int t = 0; t < 60; t++)
        {
            for (int i = 0; i < 100; i++) server.X[0][i] = MathF.Sin(i + 0.01f * t);   // a slowly moving model
            var msg = server.CompressDownlink(0, [0.1], random);
            var delta = new[] { new float[100] };
            ModelCodec.Decode(msg, delta);
            for (int i = 0; i < 100; i++) workerCopy[i] += delta[0][i];
            Assert.Equal(server.W[0][0], workerCopy);   // the worker's w equals the server's copy
        }
        double gap = server.X[0].Zip(server.W[0][0], (a, b) => (double)(a - b) * (a - b)).Sum();
        double norm = server.X[0].Sum(a => (double)a * a);
        Assert.True(gap < 0.05 * norm, $"w is {gap / norm:P1} away from x after 60 rounds of TopK 10%");
    }

    [Fact]
    public void EachLinkKeepsItsOwnModelCopy()
    {
        // Worker 0 on a fast link gets x whole; worker 1 on a slow link gets TopK 1 %: their copies differ, each
        // equals what that worker decoded, and re-syncing worker 1 (a full-state pull) makes its copy x again.
        var server = new Ef21Server([new float[200]]);
        Assert.Throws<InvalidOperationException>(() => server.CompressDownlink(0, [1.0], new Random(0)));
        server.SyncWorkerModel(0); server.SyncWorkerModel(1);
        var random = new Random(5);
        var copies = new[] { new float[200], new float[200] };
        double[][] ratios = [[1.0], [0.01]];
        for (int t = 0; t < 5; t++)
        {
            for (int i = 0; i < 200; i++) server.X[0][i] = MathF.Cos(i + t);
            for (int w = 0; w < 2; w++)
            {
                var delta = new[] { new float[200] };
                ModelCodec.Decode(server.CompressDownlink(w, ratios[w], random), delta);
                for (int i = 0; i < 200; i++) copies[w][i] += delta[0][i];
                Assert.Equal(server.W[w][0], copies[w]);
            }
        }
        Assert.All(server.X[0].Zip(server.W[0][0]), p => Assert.Equal(p.First, p.Second, 1e-6f));   // w += (x - w): x up to rounding
        Assert.True(server.X[0].Zip(server.W[1][0]).Count(p => MathF.Abs(p.First - p.Second) > 1e-3f) > 100);
        Assert.Equal(server.X[0], server.SyncWorkerModel(1)[0]);
        Assert.Equal(server.X[0], server.W[1][0]);
        server.X[0][0] += 1;
        Assert.NotEqual(server.X[0][0], server.W[1][0][0]);   // a copy, not an alias of x
    }

    [Fact]
    public void Ef21WithTopKConvergesOnTheQuadratic()
    {
        // In-process EF21 on the quadratic task: 4 workers, TopK 5% uplink, exact downlink.
        using var task = new QuadraticTask(new TaskOptions());
        var lengths = task.LayerLengths.ToArray();
        var server = new Ef21Server(task.InitialParameters());
        var workers = Enumerable.Range(0, 4).Select(_ => new Ef21Worker(lengths)).ToArray();
        var grad = lengths.Select(n => new float[n]).ToArray();
        var random = new Random(0);
        double start = task.Evaluate(server.X).Loss;
        for (int t = 0; t < 300; t++)
        {
            for (int i = 0; i < 4; i++)
            {
                task.Gradient(server.X, grad, i, 4, t);
                var msg = workers[i].Compress(grad, [0.05, 0.05, 0.05], random);
                workers[i].Commit(msg);
                server.ApplyUplink(i, msg);
            }
            server.Step([0, 1, 2, 3], 0.1f);
        }
        double end = task.Evaluate(server.X).Loss;
        Assert.True(end < 1e-3 * start, $"suboptimality {start:G3} -> {end:G3}");
    }
}

public class ServerCheckpointTests
{
    [Fact]
    public void EveryWorkersModelCopySurvivesARoundTrip()
    {
        string path = Path.Combine(Path.GetTempPath(), $"kimad-ck-{Guid.NewGuid():N}.bin");
        try
        {
            var x = new[] { new float[] { 1, 2 }, new float[] { 3 } };
            var w = new Dictionary<int, float[][]> { [0] = [[1, 2], [3]], [3] = [[0.5f, 2], [-1]] };
            var g = new Dictionary<int, float[][]> { [0] = [[0.1f, 0], [0]], [3] = [[0, 0.2f], [0.3f]] };
            new ServerCheckpoint("m1", 7, 1.5, 10, 20, x, w, g).Save(path);
            var back = ServerCheckpoint.Load(path);
            Assert.Equal(("m1", 7L, 1.5, 10L, 20L), (back.ModelVersion, back.NextRound, back.WallSeconds, back.BytesUp, back.BytesDown));
            Assert.Equal(x, back.X);
            Assert.Equal(w.Keys, back.W.Keys.Order());
            Assert.Equal(w[3], back.W[3]);
            Assert.Equal(g[3], back.G[3]);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void AFormatOneCheckpointGivesEveryWorkerTheSharedCopy()
    {
        string path = Path.Combine(Path.GetTempPath(), $"kimad-ck1-{Guid.NewGuid():N}.bin");
        try
        {
            using (var bw = new BinaryWriter(File.Create(path)))
            {
                bw.Write("KIMADCK1"); bw.Write("m1"); bw.Write(3L); bw.Write(0.5); bw.Write(1L); bw.Write(2L);
                void Layers(float[][] ls) { bw.Write(ls.Length); foreach (var l in ls) { bw.Write(l.Length); foreach (var v in l) bw.Write(v); } }
                Layers([[1, 2]]);            // x
                Layers([[0.5f, 1.5f]]);      // the shared w
                bw.Write(2);                 // g of workers 4 and 9
                bw.Write(4); Layers([[0, 1]]);
                bw.Write(9); Layers([[1, 0]]);
            }
            var back = ServerCheckpoint.Load(path);
            Assert.Equal([4, 9], back.W.Keys.Order());
            Assert.Equal([0.5f, 1.5f], back.W[9][0]);
            Assert.Equal([1f, 0], back.G[9][0]);
        }
        finally { File.Delete(path); }
    }
}
