using Kimad.Compression;
using Kimad.Tasks;
using Kimad.Training;
using Kimad.Transport;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kimad.Tests;

/// <summary>
/// Every encoding over the real transport (an in-process gradient-exchange server and hooks on loopback gRPC): what the
/// workers receive equals, bit for bit, an in-memory EF21 reference that encodes and decodes the same messages, so each
/// encoding survives chunking and the server's validation unchanged.
/// </summary>
[Collection("processes")]
public class EncodingTransportTests
{
    const int Workers = 2, Steps = 6;
    static readonly int[] Lengths = [12 * 20, 12, 8 * 5];
    static readonly int[] Rows = [12, 1, 8];

    /// <summary>A worker's gradient: a fixed part plus a small change every step.</summary>
    static float[][] Gradient(int worker, int step)
    {
        var r = new Random(100 * worker);
        var change = new Random(100 * worker + step + 1);
        return Lengths.Select(n => Enumerable.Range(0, n).Select(_ => (float)((r.NextDouble() * 2 - 1) * (r.Next(8) == 0 ? 5 : 1) + 0.1 * (change.NextDouble() * 2 - 1))).ToArray()).ToArray();
    }

    static async Task<float[][][]> Exchange(string method, CancellationToken ct)
    {
        int port = Cluster.FreePortForTests();
        var shape = ModelShape.Parse("shape:" + string.Join(",", Lengths.Select((n, l) => Rows[l] > 1 ? $"{Rows[l]}x{n / Rows[l]}" : $"{n}")));
        var server = ParameterServerHost.RunAsync(shape, new ServerOptions { Method = method, Rounds = Steps, ExpectedWorkers = Workers, EvalEvery = 0, GradientExchange = true, TimeBudgetMs = 5 },
            new ServerNetwork("127.0.0.1", port), NullLoggerFactory.Instance, ct);
        var results = new float[Workers][][];
        await Task.WhenAll(Enumerable.Range(0, Workers).Select(i => Task.Run(async () =>
        {
            using var hook = new KimadCommHook(Lengths, new WorkerOptions { ServerAddress = $"http://127.0.0.1:{port}", WorkerId = i, Workers = Workers }, layerRows: Rows);
            float[][] g = [];
            for (int step = 0; step < Steps; step++)
            {
                g = Gradient(i, step);
                await hook.ExchangeAsync(g, 1.0 / (step + 1), ct);
            }
            results[i] = g;
        }, ct)));
        Assert.Equal(Steps, (await server).Count);
        return results;
    }

    /// <summary>EF21 in memory with the methods the hooks use (same seeds): g = (1/n) sum_i g_i after every step.</summary>
    static float[][] Reference(string method)
    {
        var methods = Enumerable.Range(0, Workers).Select(i => CompressionMethod.Parse(method, layerRows: Rows, seed: i)).ToArray();
        var ef = Enumerable.Range(0, Workers).Select(_ => new Kimad.ErrorFeedback.Ef21Worker(Lengths)).ToArray();
        var server = new Kimad.ErrorFeedback.Ef21Server(Lengths.Select(n => new float[n]).ToArray());
        for (int step = 0; step < Steps; step++)
        {
            var messages = new List<KeyValuePair<int, float[][]>>();
            for (int i = 0; i < Workers; i++)
            {
                var grad = Gradient(i, step);
                var levels = methods[i].Choose(ef[i].Difference(grad), null);
                byte[] message = ef[i].Compress(grad, levels, new Random(0));
                ef[i].Commit(message);
                var c = Lengths.Select(n => new float[n]).ToArray();
                ModelCodec.Decode(message, c);
                messages.Add(new(i, c));
            }
            server.AggregateUplinks(messages, Workers);
        }
        return server.X;
    }

    [Theory]
    [InlineData("ef21-fixed:fp16")]
    [InlineData("ef21-fixed:bf16")]
    [InlineData("ef21-fixed:powersgd:2")]
    [InlineData("ef21-fixed:sign")]
    [InlineData("ef21-fixed:0.2")]
    public async Task DeterministicEncodingsArriveBitForBit(string method)
    {
        var received = await Exchange(method, TestContext.Current.CancellationToken);
        var reference = Reference(method);
        for (int l = 0; l < Lengths.Length; l++)
        {
            Assert.Equal(reference[l], received[0][l]);
            Assert.Equal(reference[l], received[1][l]);
        }
    }

    [Theory]
    [InlineData("ef21-fixed:qsgd:7")]
    [InlineData("ef21-fixed:natural")]
    [InlineData("ef21-fixed:randk:0.3")]
    [InlineData("kimad+@mixed")]
    [InlineData("kimad-progress@mixed")]
    public async Task RandomAndAdaptiveEncodingsReachEveryWorkerAlikeAndTrackTheGradient(string method)
    {
        var received = await Exchange(method, TestContext.Current.CancellationToken);
        for (int l = 0; l < Lengths.Length; l++) Assert.Equal(received[0][l], received[1][l]);
        // EF21 with a contractive compressor: the estimate moves toward the workers' mean gradient.
        var mean = Lengths.Select((n, l) => Enumerable.Range(0, n).Select(k => (Gradient(0, Steps - 1)[l][k] + Gradient(1, Steps - 1)[l][k]) / 2).ToArray()).ToArray();
        double err = 0, norm = 0;
        for (int l = 0; l < Lengths.Length; l++)
            for (int k = 0; k < Lengths[l]; k++) { err += Math.Pow(received[0][l][k] - mean[l][k], 2); norm += Math.Pow(mean[l][k], 2); }
        Assert.True(err < norm, $"{method}: ||g - mean grad||^2 = {err:G4} against ||mean grad||^2 = {norm:G4}");
    }
}
