using System.Diagnostics;
using Google.Protobuf;
using Grpc.Core;
using Kimad.Bandwidth;
using Kimad.Training;
using Kimad.Transport.Protocol;
using Microsoft.Extensions.Logging;

namespace Kimad.Transport;

/// <summary>The gRPC face of <see cref="RoundCoordinator"/>: chunked streaming, size limits, logging of rejections.</summary>
public sealed class ParameterServerService(RoundCoordinator coordinator, ServerOptions options, BandwidthMonitor monitor,
    Func<int, TokenBucketThrottle?> downlinkThrottle, ILogger<ParameterServerService> log) : ParameterServer.ParameterServerBase
{
    public override Task<JoinReply> Join(JoinRequest request, ServerCallContext context)
    {
        try
        {
            long round = coordinator.Join(request.WorkerId, request.ModelVersion);
            return Task.FromResult(new JoinReply
            {
                Accepted = true, Round = round, ExpectedWorkers = options.ExpectedWorkers, Method = Compression.CompressionMethod.Qualify(options.Method, options.Levels), TimeBudgetMs = options.TimeBudgetMs, CommRatio = options.CommRatio,
                IndependentDirections = options.IndependentDirections, GradientExchange = options.GradientExchange,
            });
        }
        catch (RejectedException e)
        {
            log.LogWarning("rejected join from {Peer}: {Reason}", context.Peer, e.Message);
            return Task.FromResult(new JoinReply { Accepted = false, Reason = e.Message });
        }
    }

    public override async Task<WaitRoundReply> WaitRound(WaitRoundRequest request, ServerCallContext context)
    {
        var wait = TimeSpan.FromMilliseconds(Math.Clamp(request.MaxWaitMs, 0, 60_000));
        var (open, finished) = await coordinator.WaitRoundAsync(request.Round, wait, context.CancellationToken);
        return new WaitRoundReply { OpenRound = open, Finished = finished };
    }

    public override async Task Pull(PullRequest request, IServerStreamWriter<Chunk> responseStream, ServerCallContext context)
    {
        PullResult result;
        try { result = coordinator.Pull(request.WorkerId, request.Round, request.HaveRound); }
        catch (RejectedException e)
        {
            log.LogWarning("rejected pull from {Peer}: {Reason}", context.Peer, e.Message);
            throw new RpcException(new Status(StatusCode.FailedPrecondition, e.Message));
        }
        var throttle = downlinkThrottle(request.WorkerId);
        int chunk = Math.Max(1024, options.ChunkBytes);
        for (int offset = 0, index = 0; offset < result.Data.Length || index == 0; offset += chunk, index++)
        {
            int length = Math.Min(chunk, result.Data.Length - offset);
            if (throttle is not null) await throttle.WaitAsync(length, context.CancellationToken);
            var message = new Chunk { Data = ByteString.CopyFrom(result.Data, offset, length) };
            if (index == 0)
                message.Header = new MessageHeader
                {
                    Round = result.Round, ModelVersion = coordinator.ModelVersion, TotalBytes = result.Data.Length, FullState = result.FullState, WorkerId = request.WorkerId,
                };
            await responseStream.WriteAsync(message, context.CancellationToken);
        }
    }

    public override async Task<PushReply> Push(IAsyncStreamReader<Chunk> requestStream, ServerCallContext context)
    {
        MessageHeader? header = null;
        byte[]? buffer = null;
        long received = 0;
        var clock = Stopwatch.StartNew();
        try
        {
            await foreach (var chunk in requestStream.ReadAllAsync(context.CancellationToken))
            {
                if (header is null)
                {
                    header = chunk.Header ?? throw new RejectedException("the first chunk has no header");
                    long limit = coordinator.MaxUplinkBytes;
                    if (header.TotalBytes < 0 || header.TotalBytes > limit)
                        throw new RejectedException($"worker {header.WorkerId} announced {header.TotalBytes} bytes; the largest valid message for this model is {limit} (oversized)");
                    buffer = new byte[header.TotalBytes];
                }
                else if (chunk.Header is not null) throw new RejectedException("a header in a later chunk");
                if (received + chunk.Data.Length > buffer!.Length)
                    throw new RejectedException($"worker {header.WorkerId} sent more than the {buffer.Length} bytes it announced");
                chunk.Data.Span.CopyTo(buffer.AsSpan((int)received));
                received += chunk.Data.Length;
            }
            if (header is null) throw new RejectedException("empty push stream");
            if (received != buffer!.Length) throw new RejectedException($"worker {header.WorkerId} announced {buffer.Length} bytes but sent {received}");
            string link = $"worker{header.WorkerId}";
            monitor.Record(link, LinkDirection.Uplink, received, clock.Elapsed);
            var processing = Stopwatch.StartNew();
            coordinator.Push(header.WorkerId, header.Round, header.ModelVersion, buffer,
                new PushReport(header.Loss, header.UplinkBps, header.DownlinkBps, header.LevelRatios.ToArray(), header.ComputeMs,
                    monitor.BudgetEstimate(link, LinkDirection.Uplink)));
            // The downlink as the worker received it: the server's own write times end when HTTP/2 and socket buffers
            // take the bytes, long before they cross a slow link.
            if (header.PulledBytes > 0 && header.PullMs is > 0 and < 3_600_000)
                monitor.Record(link, LinkDirection.Downlink, header.PulledBytes, TimeSpan.FromMilliseconds(header.PullMs));
            return new PushReply { Accepted = true, ServerMs = processing.Elapsed.TotalMilliseconds };
        }
        catch (RejectedException e)
        {
            log.LogWarning("rejected push from {Peer}: {Reason}", context.Peer, e.Message);
            return new PushReply { Accepted = false, Reason = e.Message };
        }
    }
}
