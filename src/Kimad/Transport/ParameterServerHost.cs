using System.Net;
using System.Security.Cryptography.X509Certificates;
using Kimad.Bandwidth;
using Kimad.Tasks;
using Kimad.Training;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kimad.Transport;

/// <summary>Network settings of the server process.</summary>
public sealed record ServerNetwork(string Bind = "0.0.0.0", int Port = 50051, string? Token = null,
    X509Certificate2? Certificate = null, Func<int, TokenBucketThrottle?>? DownlinkThrottle = null);

/// <summary>Runs a parameter server (Kestrel, HTTP/2, optional TLS and token) until training finishes.</summary>
public static class ParameterServerHost
{
    public static async Task<IReadOnlyList<RoundMetrics>> RunAsync(ITrainingTask task, ServerOptions options, ServerNetwork network,
        ILoggerFactory logging, CancellationToken ct)
    {
        var log = logging.CreateLogger("Kimad.Server");
        var coordinator = new RoundCoordinator(task, options, logging.CreateLogger<RoundCoordinator>());
        var monitor = new BandwidthMonitor();
        if (options.MetricsDirectory is { } metricsDir) coordinator.RoundClosed = rounds => WriteMetrics(metricsDir, rounds, coordinator, options, monitor);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        // ASP.NET Core's own logs stay off (one line per request); our services log through the caller's factory.
        builder.Services.AddSingleton(logging.CreateLogger<ParameterServerService>());
        builder.Services.AddSingleton(coordinator);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(monitor);
        builder.Services.AddSingleton(network.DownlinkThrottle ?? (_ => null));
        builder.Services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = Math.Max(options.ChunkBytes, 64 << 10) + 4096;
            o.EnableDetailedErrors = false;
            if (network.Token is { Length: > 0 } token) o.Interceptors.Add<TokenAuthInterceptor>(token, logging.CreateLogger<TokenAuthInterceptor>());
        });
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.Http2.MaxStreamsPerConnection = 1000;
            k.Listen(IPAddress.Parse(network.Bind), network.Port, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                if (network.Certificate is { } cert) listen.UseHttps(cert);
            });
        });
        await using var app = builder.Build();
        app.MapGrpcService<ParameterServerService>();
        await app.StartAsync(ct);
        log.LogInformation("kimad server listening on {Scheme}://{Bind}:{Port} ({Auth}); model {Model}; method {Method}; waiting for {Workers} workers",
            network.Certificate is null ? "http" : "https", network.Bind, network.Port, network.Token is null ? "no token" : "token required",
            coordinator.ModelVersion, options.Method, options.ExpectedWorkers);
        try
        {
            while (!coordinator.Finished)
            {
                await Task.Delay(50, ct);
                coordinator.Tick();
            }
            // Let the workers see "finished" before the server goes away.
            await Task.Delay(TimeSpan.FromSeconds(1.5), ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            log.LogInformation("stopping on request after round {Round}; metrics and checkpoint are up to date", coordinator.CurrentRound - 1);
            throw;
        }
        finally
        {
            if (options.MetricsDirectory is { } dir) WriteMetrics(dir, coordinator.Metrics, coordinator, options, monitor);
            // Long polls (WaitRound) would hold a graceful stop for seconds; give them one.
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            try { await app.StopAsync(stop.Token); } catch (OperationCanceledException) { }
        }
        return coordinator.Metrics;
    }

    static void WriteMetrics(string dir, IReadOnlyList<RoundMetrics> rounds, RoundCoordinator coordinator, ServerOptions options, BandwidthMonitor monitor) =>
        MetricsFiles.Write(dir, rounds, new
        {
            method = options.Method,
            model = coordinator.ModelVersion,
            time_budget_ms = options.TimeBudgetMs,
            workers = options.ExpectedWorkers,
            finished = rounds.Count > 0 && rounds[^1].Round + 1 >= options.Rounds,
            server_links = monitor.Snapshot().Select(e => new { link = e.Link, direction = e.Direction.ToString(), mbps = e.BitsPerSecond / 1e6, samples = e.Samples, bytes = e.TotalBytes }),
        });
}
