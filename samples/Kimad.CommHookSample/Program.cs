// Your own TorchSharp training loop, data-parallel through Kimad: each worker owns its model, its data shard and its
// optimizer (Adam here); after backward() the hook exchanges EF21-compressed gradients with the other workers through a
// gradient-exchange server and writes the aggregated gradient back into the parameters before optimizer.step().
//
//   dotnet run --project samples/Kimad.CommHookSample -c Release                         # server + 2 workers in this process
//   dotnet run --project samples/Kimad.CommHookSample -c Release -- --method ef21-fixed:0.05 --workers 4 --steps 300
// On several hosts: start `kimad server --gradient-exchange --task <the shape printed here> --workers N --rounds STEPS
// --method kimad+ --port 50051` on one, and on each worker host this loop with --server http://HOST:50051 --id I.
using Kimad.Tasks;
using Kimad.Training;
using Kimad.Transport;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

string Arg(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
int workers = int.Parse(Arg("--workers", "2")), steps = int.Parse(Arg("--steps", "200"));
string method = Arg("--method", "kimad+"), server = Arg("--server", "");
int? onlyId = args.Contains("--id") ? int.Parse(Arg("--id", "0")) : null;

// The data: a synthetic 10-class problem (a fixed random teacher network labels Gaussian inputs).
var generator = new Generator(11);
var inputs = randn([4096, 32], generator: generator);
var teacher = randn([32, 10], generator: generator);
var labels = inputs.matmul(teacher).argmax(1);

// The model, the same initial weights on every worker.
nn.Module<Tensor, Tensor> NewModel()
{
    torch.manual_seed(0);
    return nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10));
}

async Task Train(int id, string address, CancellationToken ct)
{
    var model = NewModel();
    var parameters = model.parameters().ToList();
    var optimizer = optim.Adam(parameters, lr: 1e-3);
    using var hook = KimadCommHook.For(parameters, new WorkerOptions { ServerAddress = address, WorkerId = id, Workers = workers });
    var shard = arange(id, inputs.shape[0], workers);   // this worker's rows
    var random = new Random(id);
    for (int step = 0; step < steps; step++)
    {
        var batch = shard.index_select(0, tensor(Enumerable.Range(0, 64).Select(_ => (long)random.Next((int)shard.shape[0])).ToArray()));
        optimizer.zero_grad();
        var loss = nn.functional.cross_entropy(model.call(inputs.index_select(0, batch)), labels.index_select(0, batch));
        loss.backward();
        await hook.ExchangeAsync(parameters, loss.item<float>(), ct);   // the communication hook
        optimizer.step();
        if (id == 0 && (step % 50 == 0 || step == steps - 1))
        {
            using var _ = no_grad();
            double accuracy = model.call(inputs).argmax(1).eq(labels).to(float32).mean().item<float>();
            Console.WriteLine($"step {step,4}: loss {loss.item<float>():F3}, accuracy on all data {accuracy:P1}, last message {hook.LastMessageBytes:N0} B");
        }
    }
}

var shapeModel = NewModel().parameters().Select(p => (int)p.numel()).ToArray();
Console.WriteLine($"model shape for the server: --task shape:{string.Join(",", shapeModel)}");
if (server.Length > 0)
{
    await Train(onlyId ?? 0, server, CancellationToken.None);
    return;
}
// Everything in this process: a gradient-exchange server on loopback and the workers.
var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
listener.Start();
int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
listener.Stop();
var serverRun = ParameterServerHost.RunAsync(new ModelShape(shapeModel),
    new ServerOptions { Method = method, Rounds = steps, ExpectedWorkers = workers, EvalEvery = 0, GradientExchange = true, CommRatio = 1 },
    new ServerNetwork("127.0.0.1", port), NullLoggerFactory.Instance, CancellationToken.None);
await Task.WhenAll(Enumerable.Range(0, workers).Select(i => Task.Run(() => Train(i, $"http://127.0.0.1:{port}", CancellationToken.None))));
var rounds = await serverRun;
Console.WriteLine($"{rounds.Count} rounds, {rounds[^1].BytesUp / 1e6:F2} MB up, {rounds[^1].BytesDown / 1e6:F2} MB down ({method})");
