using Kimad.Tasks;
using Kimad.Training;
using Kimad.Transport;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace Kimad.Tests;

/// <summary>Users' own training loops (TorchSharp model, data and Adam) exchanging gradients through the hook.</summary>
[Collection("processes")]
public class CommHookTests
{
    const int Workers = 2, Steps = 12, Rows = 64, Features = 8;

    static (Tensor X, Tensor Y) Data()
    {
        var generator = new Generator(7);
        var x = randn([Rows, Features], generator: generator);
        var w = randn([Features, 1], generator: generator);
        return (x, x.matmul(w) + 0.1 * randn([Rows, 1], generator: generator));
    }

    static nn.Module<Tensor, Tensor> Model()
    {
        torch.manual_seed(3);
        return nn.Sequential(nn.Linear(Features, 16), nn.Tanh(), nn.Linear(16, 1));
    }

    /// <summary>Runs <see cref="Workers"/> loops through a gradient-exchange server; returns each worker's final parameters.</summary>
    static async Task<List<float[][]>> Exchange(string method, CancellationToken ct)
    {
        var (x, y) = Data();
        var models = Enumerable.Range(0, Workers).Select(_ => Model()).ToList();
        var parameters = models.Select(m => m.parameters().ToList()).ToList();
        int port = Cluster.FreePortForTests();
        var shape = new ModelShape(parameters[0].Select(p => (int)p.numel()).ToArray());
        var server = ParameterServerHost.RunAsync(shape, new ServerOptions { Method = method, Rounds = Steps, ExpectedWorkers = Workers, EvalEvery = 0, GradientExchange = true, TimeBudgetMs = 5 },
            new ServerNetwork("127.0.0.1", port), NullLoggerFactory.Instance, ct);
        var loops = Enumerable.Range(0, Workers).Select(i => Task.Run(async () =>
        {
            using var hook = KimadCommHook.For(parameters[i], new WorkerOptions { ServerAddress = $"http://127.0.0.1:{port}", WorkerId = i, Workers = Workers });
            var optimizer = optim.Adam(parameters[i], lr: 0.05);
            var rows = arange(i, Rows, Workers);   // this worker's shard
            for (int step = 0; step < Steps; step++)
            {
                optimizer.zero_grad();
                var loss = nn.functional.mse_loss(models[i].call(x.index_select(0, rows)), y.index_select(0, rows));
                loss.backward();
                await hook.ExchangeAsync(parameters[i], loss.item<float>(), ct);
                optimizer.step();
            }
        }, ct)).ToList();
        await Task.WhenAll(loops);
        Assert.Equal(Steps, (await server).Count);
        return parameters.Select(ps => ps.Select(p => p.detach().flatten().data<float>().ToArray()).ToArray()).ToList();
    }

    [Fact]
    public async Task UncompressedExchangeEqualsFullBatchAdam()
    {
        var result = await Exchange("uncompressed", TestContext.Current.CancellationToken);
        // Reference: one model, Adam on the mean of the shards' gradients (equal shards: the full-batch MSE gradient).
        var (x, y) = Data();
        var model = Model();
        var optimizer = optim.Adam(model.parameters(), lr: 0.05);
        for (int step = 0; step < Steps; step++)
        {
            optimizer.zero_grad();
            nn.functional.mse_loss(model.call(x), y).backward();
            optimizer.step();
        }
        var reference = model.parameters().Select(p => p.detach().flatten().data<float>().ToArray()).ToArray();
        var initial = Model().parameters().Select(p => p.detach().flatten().data<float>().ToArray()).ToArray();
        for (int l = 0; l < reference.Length; l++)
            for (int k = 0; k < reference[l].Length; k++)
            {
                Assert.Equal(reference[l][k], result[0][l][k], 1e-4);
                Assert.Equal(result[0][l][k], result[1][l][k]);   // both workers' models are the same, bit for bit
            }
        Assert.True(reference.Zip(initial).Any(p => p.First.Zip(p.Second).Any(v => Math.Abs(v.First - v.Second) > 0.05)), "Adam moved the weights");
    }

    [Fact]
    public async Task CompressedExchangeKeepsTheWorkersEqualAndLearns()
    {
        var ct = TestContext.Current.CancellationToken;
        var result = await Exchange("ef21-fixed:0.3", ct);
        for (int l = 0; l < result[0].Length; l++) Assert.Equal(result[0][l], result[1][l]);
        // The trained model fits the data better than the initial one.
        var (x, y) = Data();
        var model = Model();
        double before = nn.functional.mse_loss(model.call(x), y).item<float>();
        using (no_grad())
            foreach (var (p, trained) in model.parameters().Zip(result[0])) p.copy_(tensor(trained).reshape(p.shape));
        double after = nn.functional.mse_loss(model.call(x), y).item<float>();
        Assert.True(after < 0.5 * before, $"MSE {before:G4} -> {after:G4}");
    }
}
