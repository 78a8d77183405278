using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Kimad.Compression;
using Kimad.Tasks;
using Kimad.Training;
using Kimad.Transport;
using Kimad.Transport.Protocol;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kimad.Tests;

/// <summary>An in-process server on loopback, attacked with bad input through a real gRPC client.</summary>
[Collection("processes")]
public class ServerHardeningTests
{
    static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    static Metadata Token(string t) => new() { { "authorization", "Bearer " + t } };

    static async Task<PushReply> Push(ParameterServer.ParameterServerClient client, MessageHeader header, params byte[][] chunks)
    {
        using var call = client.Push(Token("secret"));
        for (int i = 0; i < chunks.Length; i++)
            await call.RequestStream.WriteAsync(new Chunk { Header = i == 0 ? header : null, Data = ByteString.CopyFrom(chunks[i]) });
        await call.RequestStream.CompleteAsync();
        return await call;
    }

    [Fact]
    public async Task BadInputIsRejectedWithALogLineAndTheServerKeepsRunning()
    {
        var ct = TestContext.Current.CancellationToken;
        var logs = new LogCollector();
        using var task = new LogisticRegressionTask(new TaskOptions());
        int port = FreePort();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var server = ParameterServerHost.RunAsync(task, new ServerOptions { Method = "ef21-fixed:0.1", Rounds = 1, ExpectedWorkers = 1, EvalEvery = 0 },
            new ServerNetwork("127.0.0.1", port, Token: "secret"), logs, stop.Token);
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{port}");
        var client = new ParameterServer.ParameterServerClient(channel);
        string version = ((ITrainingTask)task).ModelVersion;

        // Wait for the server, then: no token, wrong token.
        JoinReply? joined = null;
        for (int i = 0; i < 100 && joined is null; i++)
        {
            try { joined = await client.JoinAsync(new JoinRequest { WorkerId = 0, ModelVersion = "other/1" }, Token("secret"), cancellationToken: ct); }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable) { await Task.Delay(100, ct); }
        }
        Assert.False(joined!.Accepted);
        Assert.Contains("other/1", joined.Reason);
        Assert.True(logs.Contains("rejected join"));
        var noToken = await Assert.ThrowsAsync<RpcException>(async () => await client.JoinAsync(new JoinRequest { WorkerId = 0, ModelVersion = version }, cancellationToken: ct));
        Assert.Equal(StatusCode.Unauthenticated, noToken.StatusCode);
        var wrongToken = await Assert.ThrowsAsync<RpcException>(async () => await client.JoinAsync(new JoinRequest { WorkerId = 0, ModelVersion = version }, Token("guess"), cancellationToken: ct));
        Assert.Equal(StatusCode.Unauthenticated, wrongToken.StatusCode);
        Assert.True(logs.Contains("rejected unauthenticated call /kimad.ParameterServer/Join"));

        Assert.True((await client.JoinAsync(new JoinRequest { WorkerId = 0, ModelVersion = version }, Token("secret"), cancellationToken: ct)).Accepted);
        var open = await client.WaitRoundAsync(new WaitRoundRequest { WorkerId = 0, Round = 0, MaxWaitMs = 10_000 }, Token("secret"), cancellationToken: ct);
        Assert.Equal(0, open.OpenRound);

        MessageHeader H(long total, string? model = null) => new() { WorkerId = 0, Round = 0, ModelVersion = model ?? version, TotalBytes = total };
        var good = ModelCodec.Encode([new float[256], new float[1]], [1.0, 1.0], new Random(0));

        var r = await Push(client, H(good.Length), good);
        Assert.False(r.Accepted); Assert.Contains("without pulling", r.Reason);
        // Pull round 0 (full state).
        using (var pull = client.Pull(new PullRequest { WorkerId = 0, Round = 0, HaveRound = -1 }, Token("secret"), cancellationToken: ct))
            await foreach (var _ in pull.ResponseStream.ReadAllAsync(ct)) { }

        r = await Push(client, H(1L << 40), good);
        Assert.False(r.Accepted); Assert.Contains("oversized", r.Reason);
        r = await Push(client, H(good.Length, "cnn/208x8"), good);
        Assert.False(r.Accepted); Assert.Contains("model 'cnn/208x8'", r.Reason);
        var wrongShape = ModelCodec.Encode([new float[255], new float[1]], [1.0, 1.0], new Random(0));
        r = await Push(client, H(wrongShape.Length), wrongShape);
        Assert.False(r.Accepted); Assert.Contains("wrong shape", r.Reason);
        var garbage = new byte[good.Length]; new Random(1).NextBytes(garbage);
        r = await Push(client, H(garbage.Length), garbage);
        Assert.False(r.Accepted); Assert.Contains("malformed", r.Reason);
        r = await Push(client, H(10), good);
        Assert.False(r.Accepted); Assert.Contains("more than the 10 bytes", r.Reason);
        r = await Push(client, H(good.Length), good[..100]);
        Assert.False(r.Accepted); Assert.Contains("but sent 100", r.Reason);
        r = await Push(client, new MessageHeader(H(good.Length)) { Round = 5 }, good);
        Assert.False(r.Accepted); Assert.Contains("open round is 0", r.Reason);
        Assert.True(logs.Lines.Count(l => l.Contains("rejected push")) >= 7);

        // Still running: a valid message completes the round (and the run).
        r = await Push(client, H(good.Length), good[..600], good[600..]);   // two chunks
        Assert.True(r.Accepted, r.Reason);
        var metrics = await server;
        Assert.Single(metrics);
    }

    [Fact]
    public async Task TlsWithAPinnedSelfSignedCertificateAndTokenTrains()
    {
        var ct = TestContext.Current.CancellationToken;
        string dir = Path.Combine(Path.GetTempPath(), $"kimad-tls-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            using var cert = Certificates.CreateSelfSigned(["localhost", "127.0.0.1"], Path.Combine(dir, "s.pfx"), Path.Combine(dir, "s.cer"), null);
            using var other = Certificates.CreateSelfSigned(["localhost"], Path.Combine(dir, "o.pfx"), Path.Combine(dir, "o.cer"), null);
            using var task = new LogisticRegressionTask(new TaskOptions());
            int port = FreePort();
            var logs = new LogCollector();
            var server = ParameterServerHost.RunAsync(task, new ServerOptions { Method = "kimad+", Rounds = 5, ExpectedWorkers = 1, EvalEvery = 0 },
                new ServerNetwork("127.0.0.1", port, "tok", Certificates.LoadPfx(Path.Combine(dir, "s.pfx"), null)), logs, ct);

            // A worker that pins another certificate never gets in.
            var impostor = new WorkerClient(task, new WorkerOptions
            {
                ServerAddress = $"https://127.0.0.1:{port}", WorkerId = 0, Token = "tok", PinnedCertificate = Certificates.LoadPublic(Path.Combine(dir, "o.cer")),
                ReconnectTimeout = TimeSpan.FromSeconds(2),
            }, NullLogger.Instance);
            await Assert.ThrowsAnyAsync<Exception>(() => impostor.RunAsync(ct));

            var worker = new WorkerClient(task, new WorkerOptions
            {
                ServerAddress = $"https://127.0.0.1:{port}", WorkerId = 0, Token = "tok", PinnedCertificate = Certificates.LoadPublic(Path.Combine(dir, "s.cer")),
            }, NullLogger.Instance);
            Assert.Equal(5, await worker.RunAsync(ct));
            Assert.Equal(5, (await server).Count);
            Assert.True(worker.Monitor.Estimate("server", Kimad.Bandwidth.LinkDirection.Uplink) > 0);
        }
        finally { Directory.Delete(dir, true); }
    }
}
