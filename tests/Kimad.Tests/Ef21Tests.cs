using Kimad.Compression;
using Kimad.ErrorFeedback;
using Kimad.Tasks;

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
        var random = new Random(3);
        var workerCopy = new float[100];
        for (int t = 0; t < 60; t++)
        {
            for (int i = 0; i < 100; i++) server.X[0][i] = MathF.Sin(i + 0.01f * t);   // a slowly moving model
            var msg = server.CompressDownlink([0.1], random);
            var delta = new[] { new float[100] };
            ModelCodec.Decode(msg, delta);
            for (int i = 0; i < 100; i++) workerCopy[i] += delta[0][i];
            Assert.Equal(server.W[0], workerCopy);   // the worker's w equals the server's copy
        }
        double gap = server.X[0].Zip(server.W[0], (a, b) => (double)(a - b) * (a - b)).Sum();
        double norm = server.X[0].Sum(a => (double)a * a);
        Assert.True(gap < 0.05 * norm, $"w is {gap / norm:P1} away from x after 60 rounds of TopK 10%");
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
