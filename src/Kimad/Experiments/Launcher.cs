using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Kimad.Bandwidth;
using Kimad.Shaping;
using Kimad.Training;
using Microsoft.Extensions.Logging;

namespace Kimad.Experiments;

/// <summary>What a launch produced.</summary>
public sealed record LaunchResult(IReadOnlyList<RoundMetrics> Rounds, ShapingMode Shaping, long TraceEpochUnixMs, int ServerExitCode, string OutputDirectory);

/// <summary>
/// Starts a server and N workers as separate processes on this machine (workers inside network namespaces
/// with tc-shaped links when possible, else with in-process token-bucket throttles), waits for the run to end,
/// and writes metrics and plots to the output folder.
/// </summary>
public static class Launcher
{
    public static async Task<LaunchResult> RunAsync(LaunchOptions o, ToolCommand tool, ILogger log, CancellationToken ct)
    {
        if (o.Workers < 1) throw new ArgumentException("--workers must be at least 1");
        var traces = o.Traces.Select(BandwidthTrace.Load).ToList();
        string dir = Path.GetFullPath(o.OutputDirectory);
        Directory.CreateDirectory(dir);
        foreach (var stale in new[] { "metrics.json", "metrics.csv", "checkpoint.bin" }) File.Delete(Path.Combine(dir, stale));
        var shaping = ResolveShaping(o, traces.Count > 0, log);
        int port = o.Port > 0 ? o.Port : FreePort();
        long epoch = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        string I(double v) => v.ToString(CultureInfo.InvariantCulture);

        var common = new List<string> { "--task", o.Task, "--workers", o.Workers.ToString(CultureInfo.InvariantCulture), "--seed", o.Seed.ToString(CultureInfo.InvariantCulture),
            "--batch-size", o.BatchSize.ToString(CultureInfo.InvariantCulture) };
        if (o.Token is { } token) common.AddRange(["--token", token]);
        var throttleArgs = new List<string>();
        if (shaping == ShapingMode.Throttle)
            throttleArgs.AddRange(["--throttle-trace", string.Join(',', o.Traces.Select(Path.GetFullPath)), "--trace-epoch-ms", epoch.ToString(CultureInfo.InvariantCulture), "--trace-stagger-s", I(o.TraceStaggerSeconds)]);

        var serverArgs = new List<string>(["server", "--method", o.Method, "--rounds", o.Rounds.ToString(CultureInfo.InvariantCulture), "--time-budget-ms", I(o.TimeBudgetMs), "--comm-ratio", I(o.CommRatio),
            "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "0.0.0.0", "--out", dir, "--eval-every", o.EvalEvery.ToString(CultureInfo.InvariantCulture),
            "--round-timeout-s", I(o.RoundTimeout.TotalSeconds), "--checkpoint", Path.Combine(dir, "checkpoint.bin"), .. common, .. throttleArgs, .. o.ExtraServerArgs]);
        if (o.LearningRate is { } lr) serverArgs.AddRange(["--lr", I(lr)]);
        if (o.MaxWallSeconds is { } maxWall) serverArgs.AddRange(["--max-wall-s", I(maxWall)]);
        if (o.IndependentDirections) serverArgs.Add("--independent-directions");

        NamespaceNetwork? network = null;
        var children = new List<ChildProcess>();
        using var shaperStop = new CancellationTokenSource();
        Task? shaper = null;
        try
        {
            if (shaping == ShapingMode.Tc)
            {
                network = NamespaceNetwork.Create(o.Workers, traces[0].MbpsAt(0), log);
                var links = Enumerable.Range(0, o.Workers).Select(i => (traces[i % traces.Count], new TraceClock(epoch, i * o.TraceStaggerSeconds))).ToList();
                shaper = new TraceShaper(network, links, log).RunAsync(shaperStop.Token);
            }
            log.LogInformation("launching server on port {Port} and {Workers} workers ({Task}, {Method}, shaping: {Shaping}); logs in {Dir}/logs",
                port, o.Workers, o.Task, o.Method, shaping, dir);
            var server = new ChildProcess(tool.StartInfo(serverArgs), Path.Combine(dir, "logs", "server.log"), "server");
            children.Add(server);
            for (int i = 0; i < o.Workers; i++)
            {
                string host = network is null ? "127.0.0.1" : network.Links[i].HostAddress;
                var args = new List<string>(["worker", "--server", $"http://{host}:{port}", "--id", i.ToString(CultureInfo.InvariantCulture), .. common, .. throttleArgs, .. o.ExtraWorkerArgs]);
                children.Add(new ChildProcess(tool.StartInfo(args, network?.Links[i].Namespace), Path.Combine(dir, "logs", $"worker{i}.log"), $"worker{i}"));
            }
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(o.RunTimeout);
            try { await server.WaitAsync(timeout.Token); }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                log.LogError("the run did not finish within {Timeout}; stopping it (see {Dir}/logs)", o.RunTimeout, dir);
            }
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            foreach (var c in children.Skip(1))
                try { await c.WaitAsync(grace.Token); } catch (OperationCanceledException) { log.LogWarning("{Name} still running after the server ended; killing it", c.Name); }
            int serverExit = server.HasExited ? server.ExitCode : -1;
            if (serverExit != 0) log.LogError("server exited with code {Code}; see {Dir}/logs/server.log", serverExit, dir);
            var rounds = File.Exists(Path.Combine(dir, "metrics.json")) ? MetricsFiles.Read(dir) : [];
            var result = new LaunchResult(rounds, shaping, epoch, serverExit, dir);
            RunReport.Write(result, o, traces, log);
            return result;
        }
        finally
        {
            foreach (var c in children) c.Dispose();
            shaperStop.Cancel();
            if (shaper is not null) await shaper;
            network?.Dispose();
        }
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
