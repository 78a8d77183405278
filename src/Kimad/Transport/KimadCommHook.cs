using System.Diagnostics;
using Grpc.Net.Client;
using Kimad.Bandwidth;
using Kimad.Compression;
using Kimad.ErrorFeedback;
using Kimad.Tasks;
using Kimad.Training;
using Kimad.Transport.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace Kimad.Transport;

/// <summary>
/// A communication hook for a training loop that owns its model, data and optimizer (in the spirit of PyTorch DDP's
/// comm hooks): after <c>loss.backward()</c>, <see cref="ExchangeAsync(IReadOnlyList{TorchSharp.Modules.Parameter}, double, CancellationToken)"/>
/// sends this worker's gradients to a gradient-exchange server (<see cref="ServerOptions.GradientExchange"/>) as an EF21
/// message compressed by the server's method (Kimad, Kimad+, a fixed TopK ratio or uncompressed) for the measured uplink,
/// waits until every worker's message of the round has arrived, and replaces each parameter's gradient with the
/// aggregated EF21 estimate g = (1/n) sum_i g_i. Every worker receives the same exact update of g, so with the same
/// initial weights and optimizer (SGD, momentum, Adam, ...) all workers' models stay equal. One hook per worker.
/// <para>Failures: a transport error or a rejected message ends the exchange with an exception (the loop decides whether to
/// stop or to create a new hook, which rejoins and receives g and its own g_i in full).</para>
/// </summary>
public sealed class KimadCommHook : IDisposable
{
    readonly WorkerClient client;
    readonly GrpcChannel channel;
    readonly ParameterServer.ParameterServerClient rpc;
    readonly WorkerOptions options;
    readonly ILogger log;
    readonly int[] lengths, rows;
    readonly Ef21Worker ef;
    readonly Stopwatch sinceLastExchange = new();
    float[][] g;
    JoinReply? join;
    CompressionMethod? method;
    CommunicationBudget? budget;
    long round = -1, haveRound = -1;
    double lastPullSeconds, lastLoss = double.NaN;
    long lastPullBytes;

    /// <summary>A hook for a model with these layer lengths (one entry per parameter tensor, in the order exchanged) and,
    /// for low-rank levels, each layer's rows (the first dimension of a tensor with two or more; null: all vectors).</summary>
    public KimadCommHook(IReadOnlyList<int> layerLengths, WorkerOptions options, ILogger? log = null, IReadOnlyList<int>? layerRows = null)
    {
        lengths = layerLengths.ToArray();
        rows = layerRows?.ToArray() ?? lengths.Select(_ => 1).ToArray();
        if (rows.Length != lengths.Length || rows.Where((m, l) => m < 1 || lengths[l] % m != 0).Any())
            throw new ArgumentException("every layer's rows must be at least 1 and divide its length");
        this.options = options;
        this.log = log ?? NullLogger.Instance;
        client = new WorkerClient(new ModelShape(lengths, null, rows), options, this.log);
        channel = client.CreateChannel();
        rpc = new ParameterServer.ParameterServerClient(channel);
        ef = new Ef21Worker(lengths);
        g = lengths.Select(n => new float[n]).ToArray();
    }

    /// <summary>A hook for these parameters (their element counts, in this order).</summary>
    public static KimadCommHook For(IEnumerable<TorchSharp.Modules.Parameter> parameters, WorkerOptions options, ILogger? log = null)
    {
        var list = parameters.ToList();
        return new(list.Select(p => checked((int)p.numel())).ToArray(), options, log, list.Select(p => p.dim() >= 2 ? checked((int)p.shape[0]) : 1).ToArray());
    }

    /// <summary>The shape the server must be started with: <c>kimad server --task shape:...</c> (rows x rest for matrices).</summary>
    public string ShapeSpec => "shape:" + string.Join(",", lengths.Select((n, l) => rows[l] > 1 ? $"{rows[l]}x{n / rows[l]}" : $"{n}"));

    /// <summary>The link estimates of this worker (uplink and downlink to the server).</summary>
    public BandwidthMonitor Monitor => client.Monitor;

    /// <summary>The round the next exchange pushes for.</summary>
    public long Round => round;

    /// <summary>Bytes of this worker's last uplink message.</summary>
    public long LastMessageBytes { get; private set; }

    /// <summary>
    /// Exchanges the parameters' gradients (<c>.grad</c>, any device and floating dtype) and writes the aggregated
    /// estimate back into them. Call once per optimizer step, after backward and before <c>optimizer.step()</c>.
    /// </summary>
    public async Task ExchangeAsync(IReadOnlyList<TorchSharp.Modules.Parameter> parameters, double loss = double.NaN, CancellationToken ct = default)
    {
        if (parameters.Count != lengths.Length) throw new ArgumentException($"the hook was made for {lengths.Length} parameter tensors, got {parameters.Count}");
        var gradients = new float[parameters.Count][];
        for (int l = 0; l < parameters.Count; l++)
        {
            var grad = parameters[l].grad ?? throw new InvalidOperationException($"parameter {l} has no gradient: call backward() before the exchange");
            using var flat = grad.detach().to(float32).cpu().contiguous().flatten();
            gradients[l] = flat.data<float>().ToArray();
        }
        await ExchangeAsync(gradients, loss, ct);
        using (no_grad())
            for (int l = 0; l < parameters.Count; l++)
            {
                var grad = parameters[l].grad!;
                using var update = tensor(gradients[l]).reshape(grad.shape).to(grad.dtype).to(grad.device);
                grad.copy_(update);
            }
    }

    /// <summary>The same on plain arrays: <paramref name="gradients"/> (one per layer) in, the aggregated estimate out.</summary>
    public async Task ExchangeAsync(float[][] gradients, double loss = double.NaN, CancellationToken ct = default)
    {
        if (gradients.Length != lengths.Length || gradients.Where((v, l) => v.Length != lengths[l]).Any())
            throw new ArgumentException($"gradients must have the hook's shapes ({string.Join(",", lengths)})");
        if (join is null)
        {
            join = await client.JoinAsync(rpc, ct);
            if (!join.GradientExchange)
                throw new InvalidOperationException($"{options.ServerAddress} trains a task of its own; the hook needs a server in gradient-exchange mode for the model shape {ShapeSpec}");
            method = CompressionMethod.Parse(join.Method, options.Discretization, layerRows: rows, seed: options.Seed * 7919 + options.WorkerId);
            budget = new CommunicationBudget(join.TimeBudgetMs, join.CommRatio);
            round = join.Round;
            await PullRoundAsync(ct);
        }
        else budget!.RecordCompute(sinceLastExchange.Elapsed.TotalMilliseconds);   // the loop's forward and backward
        // kimad-progress: the hook cannot evaluate the loop's model, so progress is the change of the reported loss
        // between consecutive steps (different minibatches: noisier than the worker's same-minibatch measurement).
        if (method is KimadProgressMethod progress && double.IsFinite(lastLoss) && double.IsFinite(loss)) progress.RecordProgress(lastLoss - loss);
        lastLoss = loss;
        var diff = ef.Difference(gradients);
        var (levels, up, down) = client.ChooseLevels(method!, budget!, diff, lastPullSeconds, join.IndependentDirections);
        byte[] message = ModelCodec.Encode(diff, levels, client.Random);
        var header = new MessageHeader
        {
            WorkerId = options.WorkerId, Round = round, ModelVersion = ((ITrainingTask)new ModelShape(lengths)).ModelVersion, TotalBytes = message.Length,
            Loss = double.IsFinite(loss) ? loss : 0, UplinkBps = up ?? 0, DownlinkBps = down is { } d ? Math.Max(d, 1) : 0,
            ComputeMs = budget!.ComputeMs ?? 0, PullMs = lastPullSeconds * 1000, PulledBytes = lastPullBytes,
        };
        header.LevelRatios.AddRange(levels.Select((c, l) => (float)Compressors.LevelRatio(c, lengths[l])));
        var clock = Stopwatch.StartNew();
        var reply = await client.PushAsync(rpc, header, message, ct);
        var transfer = clock.Elapsed - TimeSpan.FromMilliseconds(Math.Clamp(reply.ServerMs, 0, clock.Elapsed.TotalMilliseconds * 0.99));
        client.Monitor.Record("server", LinkDirection.Uplink, message.Length, transfer);
        if (!reply.Accepted) throw new InvalidOperationException($"worker {options.WorkerId}: the server rejected round {round}: {reply.Reason}");
        ef.Commit(message);
        LastMessageBytes = message.Length;
        round++;
        await PullRoundAsync(ct);
        for (int l = 0; l < g.Length; l++) g[l].CopyTo(gradients[l], 0);
        sinceLastExchange.Restart();
    }

    async Task PullRoundAsync(CancellationToken ct)
    {
        while (true)
        {
            var wait = await rpc.WaitRoundAsync(new WaitRoundRequest { WorkerId = options.WorkerId, Round = round, MaxWaitMs = 5000 }, client.Headers(), cancellationToken: ct);
            if (wait.Finished) throw new InvalidOperationException($"worker {options.WorkerId}: the server has finished its rounds (round {round} was not delivered)");
            if (wait.OpenRound < round) continue;
            if (wait.OpenRound > round)
            {
                log.LogWarning("worker {Worker}: fell behind to round {Round}; resynchronising", options.WorkerId, wait.OpenRound);
                round = wait.OpenRound;
                haveRound = -1;
            }
            break;
        }
        var clock = Stopwatch.StartNew();
        var (header, data) = await client.PullAsync(rpc, round, haveRound, ct);
        lastPullSeconds = clock.Elapsed.TotalSeconds;
        lastPullBytes = data.Length;
        client.Monitor.Record("server", LinkDirection.Downlink, data.Length, clock.Elapsed);
        g = WorkerClient.ApplyPull(header.FullState, data, lengths, g, ef);
        haveRound = round;
    }

    public void Dispose() => channel.Dispose();
}
