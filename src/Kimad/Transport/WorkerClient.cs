using System.Diagnostics;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Kimad.Bandwidth;
using Kimad.Compression;
using Kimad.ErrorFeedback;
using Kimad.Tasks;
using Kimad.Training;
using Kimad.Transport.Protocol;
using Microsoft.Extensions.Logging;

namespace Kimad.Transport;

/// <summary>Settings of a worker process.</summary>
public sealed record WorkerOptions
{
    public required string ServerAddress { get; init; }
    public required int WorkerId { get; init; }
    public int Workers { get; init; } = 1;
    public string? Token { get; init; }
    /// <summary>Server certificate to pin (TLS with a self-signed certificate).</summary>
    public X509Certificate2? PinnedCertificate { get; init; }
    /// <summary>How long the worker keeps trying to (re)connect before giving up.</summary>
    public TimeSpan ReconnectTimeout { get; init; } = TimeSpan.FromSeconds(60);
    public int ChunkBytes { get; init; } = 64 << 10;
    public int Seed { get; init; }
    public int Discretization { get; init; } = 1000;
    /// <summary>Uplink estimate before the first measurement (bit/s); 0 = none (Kimad then starts at the smallest level).</summary>
    public double InitialBitsPerSecond { get; init; }
    public TokenBucketThrottle? UplinkThrottle { get; init; }
    /// <summary>Test hook: stop after this many pushed rounds (simulates a crash).</summary>
    public long? StopAfterRounds { get; init; }
    /// <summary>A round's compute (gradient, decision, encoding) takes at least this long: the worker waits out the rest.
    /// Fixes the compute/link balance of an experiment independently of the machine's speed (0 = off).</summary>
    public double MinComputeMs { get; init; }
    /// <summary>Opens the TCP connections to the server (e.g. <see cref="Shaping.NamespaceSockets.ConnectAsync(System.Net.Http.SocketsHttpConnectionContext, CancellationToken)"/>
    /// to leave through a shaped network namespace); null = the default.</summary>
    public Func<System.Net.Http.SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>>? Connect { get; init; }
}

/// <summary>
/// A worker: joins, then per round waits for it to open, pulls and applies the downlink (timed), computes a
/// stochastic gradient, compresses grad - g_i per the server's method with the measured uplink bandwidth, and
/// pushes it in chunks (timed). On any transport failure it rejoins and resynchronises from the server's state.
/// </summary>
public sealed class WorkerClient(ITrainingTask task, WorkerOptions options, ILogger log)
{
    readonly BandwidthMonitor monitor = new();
    readonly Random random = new(options.Seed * 7919 + options.WorkerId);
    internal Random Random => random;
    const string Link = "server";

    public BandwidthMonitor Monitor => monitor;

    public async Task<long> RunAsync(CancellationToken ct)
    {
        using var channel = CreateChannel();
        var client = new ParameterServer.ParameterServerClient(channel);
        var lengths = task.LayerLengths.ToArray();
        var w = task.InitialParameters();
        var ef = new Ef21Worker(lengths);
        var gradient = lengths.Select(n => new float[n]).ToArray();
        long pushedRounds = 0, haveRound = -1, round;
        var join = await JoinAsync(client, ct);
        round = join.Round;
        if (join.GradientExchange)
            throw new InvalidOperationException($"worker {options.WorkerId}: {options.ServerAddress} exchanges gradients for a training loop of its own (KimadCommHook), it does not train a task");
        var method = CompressionMethod.Parse(join.Method, options.Discretization, layerRows: task.LayerRows, seed: options.Seed * 7919 + options.WorkerId);
        var progress = method as KimadProgressMethod;
        var budgetRule = new CommunicationBudget(join.TimeBudgetMs, join.CommRatio);
        var failingSince = (DateTime?)null;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            try
            {
                var wait = await client.WaitRoundAsync(new WaitRoundRequest { WorkerId = options.WorkerId, Round = round, MaxWaitMs = 5000 }, Headers(), cancellationToken: ct);
                if (wait.Finished) { log.LogInformation("worker {Worker}: training finished after {Rounds} pushed rounds", options.WorkerId, pushedRounds); return pushedRounds; }
                if (wait.OpenRound < round) continue;
                if (wait.OpenRound > round) { log.LogDebug("worker {Worker}: fell behind, round {Open} is open", options.WorkerId, wait.OpenRound); round = wait.OpenRound; }

                // Downlink: timed from the first request byte to the last chunk.
                var clock = Stopwatch.StartNew();
                var (header, data) = await PullAsync(client, round, haveRound, ct);
                monitor.Record(Link, LinkDirection.Downlink, data.Length, clock.Elapsed);
                double pullSeconds = clock.Elapsed.TotalSeconds;
                if (header.ModelVersion != task.ModelVersion) throw new InvalidDataException($"server sent model '{header.ModelVersion}', this worker trains '{task.ModelVersion}'");
                // kimad-progress: the model before this round's update, to measure the update's effect on this round's minibatch.
                var before = progress is not null && !header.FullState && haveRound == round - 1 ? w.Select(a => (float[])a.Clone()).ToArray() : null;
                w = ApplyPull(header.FullState, data, lengths, w, ef);
                haveRound = round;

                var compute = Stopwatch.StartNew();
                double loss = task.Gradient(w, gradient, options.WorkerId, options.Workers, round);
                if (before is not null) progress!.RecordProgress(task.Loss(before, options.WorkerId, options.Workers, round) - loss);
                if (options.MinComputeMs > compute.Elapsed.TotalMilliseconds)
                    await Task.Delay(TimeSpan.FromMilliseconds(options.MinComputeMs) - compute.Elapsed, ct);
                budgetRule.RecordCompute(compute.Elapsed.TotalMilliseconds);
                var diff = ef.Difference(gradient);
                var (levels, up, down) = ChooseLevels(method, budgetRule, diff, pullSeconds, join.IndependentDirections);
                byte[] message = ModelCodec.Encode(diff, levels, random);
                compute.Stop();

                var outgoing = new MessageHeader
                {
                    WorkerId = options.WorkerId, Round = round, ModelVersion = task.ModelVersion, TotalBytes = message.Length, Loss = loss,
                    UplinkBps = up ?? 0, DownlinkBps = down is { } d ? Math.Max(d, 1) : 0, ComputeMs = compute.Elapsed.TotalMilliseconds,
                    PulledBytes = data.Length, PullMs = pullSeconds * 1000,
                };
                outgoing.LevelRatios.AddRange(levels.Select((c, l) => (float)Compressors.LevelRatio(c, lengths[l])));
                clock.Restart();
                var reply = await PushAsync(client, outgoing, message, ct);
                // The last push of a round waits while the server closes it (step, evaluation, checkpoint): not link time.
                var transfer = clock.Elapsed - TimeSpan.FromMilliseconds(Math.Clamp(reply.ServerMs, 0, clock.Elapsed.TotalMilliseconds * 0.99));
                monitor.Record(Link, LinkDirection.Uplink, message.Length, transfer);
                if (reply.Accepted)
                {
                    ef.Commit(message);
                    pushedRounds++;
                }
                else log.LogWarning("worker {Worker}: server rejected round {Round}: {Reason}", options.WorkerId, round, reply.Reason);
                failingSince = null;
                round++;
                if (options.StopAfterRounds is { } stop && pushedRounds >= stop) return pushedRounds;
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown or StatusCode.FailedPrecondition or StatusCode.DeadlineExceeded or StatusCode.Cancelled && !ct.IsCancellationRequested)
            {
                failingSince ??= DateTime.UtcNow;
                if (DateTime.UtcNow - failingSince > options.ReconnectTimeout)
                    throw new InvalidOperationException($"worker {options.WorkerId}: server {options.ServerAddress} unreachable for {options.ReconnectTimeout.TotalSeconds:0} s: {e.Status.Detail}");
                log.LogWarning("worker {Worker}: {Status} ({Detail}); rejoining", options.WorkerId, e.StatusCode, e.Status.Detail);
                await Task.Delay(500, ct);
                try
                {
                    join = await JoinAsync(client, ct);
                    round = Math.Max(join.Round, 0);
                    haveRound = -1;   // the next pull brings the full state (w_i = x, and g_i)
                }
                catch (RpcException) { }
            }
        }
    }

    /// <summary>
    /// The levels of this round's uplink message, and the uplink and downlink rates reported to the server (metrics,
    /// and the server's downlink budget). Auto budget: the round's fixed part is this round's compute, the uplink
    /// latency and the downlink just received, and the method sizes the message for the best EF21 contraction per
    /// second. Otherwise the byte budget is what the uplink carries in the time budget (effective rates within it).
    /// </summary>
    internal (ICompressor[] Levels, double? Up, double? Down) ChooseLevels(CompressionMethod method, CommunicationBudget budgetRule, float[][] diff, double pullSeconds,
        bool independentDirections)
    {
        if (method.SizesItself && monitor.BudgetEstimate(Link, LinkDirection.Uplink) is { } upBps)
        {
            // Shared bottleneck (the default): a pull that just crawled means this push will crawl too.
            if (!independentDirections && monitor.BudgetEstimate(Link, LinkDirection.Downlink) is { } downBps) upBps = Math.Min(upBps, downBps);
            var timing = new LinkTiming((budgetRule.ComputeMs ?? 0) / 1000 + monitor.LatencySeconds(Link, LinkDirection.Uplink) + pullSeconds, 8 / upBps);
            return (method.ChooseForRate(diff, timing), upBps, monitor.BudgetEstimate(Link, LinkDirection.Downlink));
        }
        double? budgetMs = budgetRule.BudgetMs;
        double? budget = budgetMs is { } t ? monitor.BytesWithin(Link, LinkDirection.Uplink, t / 1000) : null;
        if (!independentDirections && budget is { } upBytes && budgetMs is { } t2 && monitor.BytesWithin(Link, LinkDirection.Downlink, t2 / 1000) is { } downBytes)
            budget = Math.Min(upBytes, downBytes);
        if (budget is null && options.InitialBitsPerSecond > 0) budget = budgetRule.BudgetBytes(options.InitialBitsPerSecond);
        double? up = budget is { } bytes && budgetMs is { } ms ? bytes * 8 / (ms / 1000) : null;
        double? down = budgetMs is { } ms2 && monitor.BytesWithin(Link, LinkDirection.Downlink, ms2 / 1000) is { } db ? db * 8 / (ms2 / 1000) : null;
        return (method.Choose(diff, budget), up, down);
    }

    internal async Task<JoinReply> JoinAsync(ParameterServer.ParameterServerClient client, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + options.ReconnectTimeout;
        while (true)
        {
            try
            {
                var reply = await client.JoinAsync(new JoinRequest { WorkerId = options.WorkerId, ModelVersion = task.ModelVersion }, Headers(), cancellationToken: ct);
                if (!reply.Accepted) throw new InvalidOperationException($"worker {options.WorkerId}: server refused to join: {reply.Reason}");
                log.LogInformation("worker {Worker} joined {Server} at round {Round} (method {Method}, budget {Budget} ms)", options.WorkerId, options.ServerAddress, reply.Round, reply.Method, reply.CommRatio > 0 ? FormattableString.Invariant($"{reply.CommRatio} x compute") : reply.TimeBudgetMs.ToString(System.Globalization.CultureInfo.InvariantCulture));
                return reply;
            }
            catch (RpcException e) when (ConnectionMismatch(e) is { } mismatch)
            {
                throw new IOException(mismatch);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && DateTime.UtcNow < deadline)
            {
                await Task.Delay(300, ct);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unauthenticated)
            {
                throw new UnauthorizedAccessException($"worker {options.WorkerId}: the server refused the token: {e.Status.Detail}");
            }
        }
    }

    /// <summary>What to do when the failure is a TLS or protocol mismatch that retrying cannot fix; null otherwise.</summary>
    internal string? ConnectionMismatch(RpcException e)
    {
        bool tls = options.ServerAddress.StartsWith("https:", StringComparison.OrdinalIgnoreCase);
        var chain = new List<Exception>();
        for (Exception? x = e.Status.DebugException ?? e.InnerException; x is not null; x = x.InnerException) chain.Add(x);
        var http = chain.OfType<System.Net.Http.HttpRequestException>().FirstOrDefault();
        var auth = chain.LastOrDefault(x => x is System.Security.Authentication.AuthenticationException);
        if (auth is not null || http?.HttpRequestError == System.Net.Http.HttpRequestError.SecureConnectionError)
            return $"worker {options.WorkerId}: TLS handshake with {options.ServerAddress} failed ({FirstLine((auth ?? http!).Message)}): pin the certificate " +
                "the server uses, or use http:// if the server runs without TLS";
        if (!tls && http?.HttpRequestError is System.Net.Http.HttpRequestError.HttpProtocolError or System.Net.Http.HttpRequestError.InvalidResponse
            or System.Net.Http.HttpRequestError.ResponseEnded)
            return $"worker {options.WorkerId}: {options.ServerAddress} does not speak plain HTTP/2 gRPC ({FirstLine(http.Message)}); if the server uses TLS, " +
                "connect with https:// and pin its certificate";
        return null;
    }

    static string FirstLine(string message) => message.Split('\n')[0].TrimEnd();

    internal async Task<(MessageHeader Header, byte[] Data)> PullAsync(ParameterServer.ParameterServerClient client, long round, long haveRound, CancellationToken ct)
    {
        using var call = client.Pull(new PullRequest { WorkerId = options.WorkerId, Round = round, HaveRound = haveRound }, Headers(), cancellationToken: ct);
        MessageHeader? header = null;
        byte[]? data = null;
        int received = 0;
        await foreach (var chunk in call.ResponseStream.ReadAllAsync(ct))
        {
            if (header is null)
            {
                header = chunk.Header ?? throw new InvalidDataException("server's first chunk has no header");
                if (header.TotalBytes is < 0 or > int.MaxValue) throw new InvalidDataException($"server announced {header.TotalBytes} bytes");
                data = new byte[header.TotalBytes];
            }
            if (received + chunk.Data.Length > data!.Length) throw new InvalidDataException("server sent more bytes than announced");
            chunk.Data.Span.CopyTo(data.AsSpan(received));
            received += chunk.Data.Length;
        }
        if (header is null || received != data!.Length) throw new InvalidDataException($"server's downlink ended after {received} bytes");
        return (header, data);
    }

    internal async Task<PushReply> PushAsync(ParameterServer.ParameterServerClient client, MessageHeader header, byte[] message, CancellationToken ct)
    {
        using var call = client.Push(Headers(), cancellationToken: ct);
        int chunk = Math.Max(1024, options.ChunkBytes);
        for (int offset = 0, index = 0; offset < message.Length || index == 0; offset += chunk, index++)
        {
            int length = Math.Min(chunk, message.Length - offset);
            if (options.UplinkThrottle is { } throttle) await throttle.WaitAsync(length, ct);
            var c = new Chunk { Data = ByteString.CopyFrom(message, offset, length) };
            if (index == 0) c.Header = header;
            await call.RequestStream.WriteAsync(c, ct);
        }
        await call.RequestStream.CompleteAsync();
        return await call;
    }

    internal Metadata Headers() => options.Token is { Length: > 0 } t ? new Metadata { { TokenAuthInterceptor.Header, "Bearer " + t } } : [];

    internal GrpcChannel CreateChannel()
    {
        var handler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true, ConnectTimeout = TimeSpan.FromSeconds(5) };
        if (options.Connect is { } connect) handler.ConnectCallback = connect;
        if (options.PinnedCertificate is { } pinned)
            handler.SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, cert, _, _) => cert is not null && cert.GetCertHashString() == pinned.GetCertHashString(),
            };
        return GrpcChannel.ForAddress(options.ServerAddress, new GrpcChannelOptions { HttpHandler = handler, MaxReceiveMessageSize = Math.Max(options.ChunkBytes, 64 << 10) + 4096 });
    }

    /// <summary>
    /// Applies a pulled message to a worker's copy: a full state replaces the copy and restores the EF21 state (the message
    /// holds both), a delta is added in place. Returns the copy to use from now on.
    /// </summary>
    internal static float[][] ApplyPull(bool fullState, ReadOnlySpan<byte> data, IReadOnlyList<int> lengths, float[][] copy, Ef21Worker ef)
    {
        if (fullState)
        {
            var layers = lengths.Concat(lengths).Select(n => new float[n]).ToArray();
            ModelCodec.Decode(data, layers);
            ef.Restore(layers[lengths.Count..]);
            return layers[..lengths.Count];
        }
        var delta = lengths.Select(n => new float[n]).ToArray();
        ModelCodec.Decode(data, delta);
        for (int l = 0; l < copy.Length; l++) Vector.Add(copy[l], delta[l]);
        return copy;
    }
}
