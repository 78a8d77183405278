using System.Net;
using System.Net.Sockets;
using Kimad.Bandwidth;
using Kimad.Shaping;
using Kimad.Tasks;
using Kimad.Training;
using Kimad.Transport;
using Microsoft.Extensions.Logging;

namespace Kimad.Experiments;

/// <summary>What a launch produced. <see cref="Failure"/> is null when the server finished its rounds.</summary>
public sealed record LaunchResult(IReadOnlyList<RoundMetrics> Rounds, ShapingMode Shaping, long TraceEpochUnixMs, string? Failure, string OutputDirectory);

/// <summary>
/// Runs a server and N workers in this process, each worker's connections leaving through its own network namespace
/// with a tc-shaped link when possible (else through in-process token-bucket throttles), waits for the run to end,
/// and writes metrics, plots and per-role logs to the output folder. Nothing outlives the call: the namespaces are
/// removed on return, and by a watchdog if the process is killed.
/// </summary>
public static class Launcher
{
    public static async Task<LaunchResult> RunAsync(LaunchOptions o, ILogger log, CancellationToken ct)
    {
        if (o.Workers < 1) throw new ArgumentException("--workers must be at least 1");
        if (o.MinComputeMs < 0 || double.IsNaN(o.MinComputeMs)) throw new ArgumentException("the minimum compute time per round must be >= 0 ms");
        Compression.CompressionMethod.Parse(o.Method, levels: o.Levels);
        var traces = o.Traces.Select(BandwidthTrace.Load).ToList();
        string dir = Path.GetFullPath(o.OutputDirectory);
        Directory.CreateDirectory(dir);
        foreach (var stale in new[] { "metrics.json", "metrics.csv", "checkpoint.bin" }) File.Delete(Path.Combine(dir, stale));
        var shaping = ResolveShaping(o, traces.Count > 0, log);
        int port = o.Port > 0 ? o.Port : FreePort();
        long epoch = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var throttles = shaping == ShapingMode.Throttle ? TokenBucketThrottle.PerWorker(traces, epoch, o.TraceStaggerSeconds) : _ => null;
        // Workers compute on thread-pool threads; with fewer threads than workers a round would wait for thread injection.
        ThreadPool.GetMinThreads(out int minWorker, out int minIo);
        ThreadPool.SetMinThreads(Math.Max(minWorker, 2 * o.Workers + 8), minIo);

        NamespaceNetwork? network = null;
        var sockets = new List<NamespaceSockets>();
        var disposables = new List<IDisposable>();
        using var shaperStop = new CancellationTokenSource();
        using var stopWorkers = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var workers = new List<Task>();
        Task? shaper = null;
        try
        {
            if (shaping == ShapingMode.Tc)
            {
                network = NamespaceNetwork.Create(o.Workers, traces[0].MbpsAt(0), log);
                foreach (var link in network.Links) sockets.Add(new NamespaceSockets(link.Namespace));
                var links = Enumerable.Range(0, o.Workers).Select(i => (traces[i % traces.Count], new TraceClock(epoch, i * o.TraceStaggerSeconds))).ToList();
                shaper = new TraceShaper(network, links, log).RunAsync(shaperStop.Token);
            }
            log.LogInformation("running a server on port {Port} and {Workers} workers ({Task}, {Method}, shaping: {Shaping}); logs in {Dir}/logs",
                port, o.Workers, o.Task, o.Method, shaping, dir);
            var taskOptions = new TaskOptions(o.Seed, o.BatchSize, o.DataDirectory);
            var serverLogging = Track(FileLogging.Create(Path.Combine(dir, "logs", "server.log")));
            var serverTask = Track(TrainingTasks.Create(o.Task, taskOptions));
            var serverOptions = new ServerOptions
            {
                Method = o.Method, Levels = o.Levels, Rounds = o.Rounds, MaxWallSeconds = o.MaxWallSeconds, TimeBudgetMs = o.TimeBudgetMs, CommRatio = o.CommRatio,
                IndependentDirections = o.IndependentDirections, LearningRate = o.LearningRate, ExpectedWorkers = o.Workers, RoundTimeout = o.RoundTimeout,
                CheckpointPath = Path.Combine(dir, "checkpoint.bin"), MetricsDirectory = dir, EvalEvery = o.EvalEvery, Seed = o.Seed,
            };
            var serverNetwork = new ServerNetwork(network is null ? "127.0.0.1" : "0.0.0.0", port, DownlinkThrottle: throttles);

            using var run = CancellationTokenSource.CreateLinkedTokenSource(ct);
            run.CancelAfter(o.RunTimeout);
            using var stopOnTimeout = run.Token.Register(stopWorkers.Cancel);
            var server = Task.Run(() => ParameterServerHost.RunAsync(serverTask, serverOptions, serverNetwork, serverLogging, run.Token), CancellationToken.None);
            for (int i = 0; i < o.Workers; i++)
            {
                var logging = Track(FileLogging.Create(Path.Combine(dir, "logs", $"worker{i}.log")));
                var workerLog = logging.CreateLogger("Kimad.Worker");
                var task = Track(TrainingTasks.Create(o.Task, taskOptions));
                var options = new WorkerOptions
                {
                    ServerAddress = $"http://{(network is null ? "127.0.0.1" : network.Links[i].HostAddress)}:{port}", WorkerId = i, Workers = o.Workers, Seed = o.Seed,
                    UplinkThrottle = throttles(i), MinComputeMs = o.MinComputeMs, Connect = network is null ? null : sockets[i].ConnectAsync,
                    ReconnectTimeout = TimeSpan.FromSeconds(Math.Max(60, 3 * o.RoundTimeout.TotalSeconds)),
                };
                workers.Add(Task.Run(async () =>
                {
                    try { await new WorkerClient(task, options, workerLog).RunAsync(stopWorkers.Token); }
                    catch (OperationCanceledException) when (stopWorkers.IsCancellationRequested) { workerLog.LogInformation("worker stopped"); }
                    catch (Exception e) { workerLog.LogError("worker failed: {Error}", e.Message); }
                }, CancellationToken.None));
            }

            string? failure = null;
            try { await server; }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                failure = $"the run did not finish within {o.RunTimeout}";
                log.LogError("{Failure}; stopped it (see {Dir}/logs)", failure, dir);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                failure = $"the server failed: {e.Message}";
                log.LogError("{Failure} (see {Dir}/logs/server.log)", failure, dir);
            }
            var grace = Task.WhenAll(workers);
            if (await Task.WhenAny(grace, Task.Delay(TimeSpan.FromSeconds(15), CancellationToken.None)) != grace)
                log.LogWarning("workers still running 15 s after the server ended; stopping them");
            stopWorkers.Cancel();
            await grace;
            ct.ThrowIfCancellationRequested();
            var rounds = File.Exists(Path.Combine(dir, "metrics.json")) ? MetricsFiles.Read(dir) : [];
            if (failure is null && rounds.Count == 0) failure = "no round completed";
            var result = new LaunchResult(rounds, shaping, epoch, failure, dir);
            RunReport.Write(result, o, traces, log);
            return result;
        }
        finally
        {
            stopWorkers.Cancel();   // a signal or a failure: the workers end before their tasks are disposed
            await Task.WhenAll(workers);
            shaperStop.Cancel();
            if (shaper is not null) await shaper;
            foreach (var s in sockets) s.Dispose();
            network?.Dispose();
            foreach (var d in disposables) d.Dispose();
        }

        T Track<T>(T d) where T : IDisposable { disposables.Add(d); return d; }
    }

    static ShapingMode ResolveShaping(LaunchOptions o, bool haveTraces, ILogger log)
    {
        if (!haveTraces || o.Shaping == ShapingMode.None) return ShapingMode.None;
        if (o.Shaping == ShapingMode.Throttle) return ShapingMode.Throttle;
        string? why = NamespaceNetwork.Unavailable();
        if (why is null) return ShapingMode.Tc;
        if (o.Shaping == ShapingMode.Tc) throw new ArgumentException($"--shaping tc is not possible here: {why}; use --shaping throttle");
        log.LogWarning("network namespaces unavailable ({Why}); shaping with in-process token buckets instead", why);
        return ShapingMode.Throttle;
    }

    static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }
}
