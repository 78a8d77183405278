using Kimad.Experiments;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kimad.Tests;

/// <summary>Real processes on loopback: server and workers of the kimad CLI talking gRPC.</summary>
[Collection("processes")]
public class MultiProcessTests
{
    static readonly TimeSpan Long = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task LaunchOnLoopbackConverges()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"kimad-test-launch-{Guid.NewGuid():N}");
        try
        {
            string trace = Path.Combine(AppContext.BaseDirectory, "Traces", "step.csv");
            var result = await Launcher.RunAsync(new LaunchOptions
            {
                Workers = 3, Task = "logreg", Method = "kimad+", Rounds = 40, OutputDirectory = dir, Traces = [trace], Shaping = ShapingMode.Throttle,
                EvalEvery = 5, TimeBudgetMs = 50, RunTimeout = Long,
            }, NullLogger.Instance, TestContext.Current.CancellationToken);
            Assert.Null(result.Failure);
            Assert.Equal(Enumerable.Range(0, 40).Select(i => (long)i), result.Rounds.Select(r => r.Round));
            Assert.All(result.Rounds, r => Assert.Equal(3, r.Participants));
            var first = result.Rounds.First(r => r.EvalLoss is not null);
            var last = result.Rounds[^1];
            Assert.True(last.EvalLoss < 0.8 * first.EvalLoss, $"eval loss {first.EvalLoss} -> {last.EvalLoss}");
            Assert.True(last.EvalAccuracy > 0.8, $"accuracy {last.EvalAccuracy}");
            Assert.True(last.UplinkRatios[0].Length == 2);
            foreach (var png in new[] { "loss_vs_time.png", "accuracy_vs_bytes.png", "bandwidth.png", "ratios.png" })
                Assert.True(new FileInfo(Path.Combine(dir, png)).Length > 1000, png);
        }
        finally { try { Directory.Delete(dir, true); } catch (IOException) { } }
    }

    [Fact]
    public async Task AllocateCommandSolvesTheExampleProblem()
    {
        using var c = new Cluster("allocate");
        string problem = Path.Combine(AppContext.BaseDirectory, "Examples", "allocate-problem.json");
        var p = c.Start("allocate", "allocate", "--input", problem);
        await Cluster.Exit(p, Long);
        Assert.Equal(0, p.ExitCode);
        using var json = System.Text.Json.JsonDocument.Parse(c.ReadLog("allocate"));
        // Brute force over 27 combinations: conv1 full (805) + fc1 1321 + fc2 full (2565) = 4691 bytes, error 9.0;
        // conv1 full + fc1 13113 is over budget. Best: [0, 2, 0].
        Assert.Equal([0, 2, 0], json.RootElement.GetProperty("choices").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(4691, json.RootElement.GetProperty("total_bytes").GetInt64());
        Assert.Equal(9.0, json.RootElement.GetProperty("total_error").GetDouble(), 9);
    }

    [Fact]
    public async Task AKilledWorkerIsDroppedAndCanRejoin()
    {
        using var c = new Cluster("kill");
        string[] common = ["--task", "quadratic", "--workers", "3"];
        var server = c.Server([.. common, "--method", "ef21-fixed:0.1", "--rounds", "2000", "--round-timeout-s", "1.5", "--eval-every", "20"]);
        for (int i = 0; i < 3; i++) c.Worker(i, common);
        await c.WaitForLog("server", "round 20 done", Long);
        var worker2 = FindWorker(c, 2);
        worker2.Kill();
        await c.WaitForLog("server", "worker 2 missed the round", Long);
        await Task.Delay(500, TestContext.Current.CancellationToken);
        c.Worker(2, common);   // restart: same id, fresh process
        await c.WaitForLog("server", "worker 2 rejoined", Long);
        await Cluster.Exit(server, Long);
        Assert.Equal(0, server.ExitCode);
        var m = c.Metrics();
        Assert.Equal(Enumerable.Range(0, 2000).Select(i => (long)i), m.Select(r => r.Round));
        int dropped = m.FindIndex(r => r.Participants == 2);
        Assert.True(dropped > 0, "no round completed with 2 workers after the kill");
        Assert.Contains(m.Skip(dropped), r => r.Participants == 3);   // back to 3 after the rejoin
        Assert.Equal(3, m[^1].Participants);
        // Policy: while worker 2 is dead the others step on their shards only (f drifts from the full optimum);
        // after the rejoin all three shards count again and the full objective converges.
        int back = m.FindIndex(dropped, r => r.Participants == 3);
        double worstWhileDead = m.Skip(dropped).Take(back - dropped).Where(r => r.EvalLoss is not null).Select(r => r.EvalLoss!.Value).DefaultIfEmpty(0).Max();
        double final = m[^1].EvalLoss!.Value;
        Assert.True(final < 0.2 * Math.Max(worstWhileDead, m.First(r => r.EvalLoss is not null).EvalLoss!.Value), $"final suboptimality {final} (worst while a worker was dead: {worstWhileDead})");
    }

    static ChildProcess FindWorker(Cluster c, int id) => c.Children.First(p => p.Name == $"worker{id}" && !p.HasExited);

    [Fact]
    public async Task ARestartedServerResumesFromItsCheckpoint()
    {
        using var c = new Cluster("restart");
        string checkpoint = Path.Combine(c.Directory, "checkpoint.bin");
        string[] common = ["--task", "quadratic", "--workers", "2"];
        string[] serverArgs = [.. common, "--method", "kimad", "--rounds", "300", "--checkpoint", checkpoint, "--resume", "--eval-every", "25", "--round-timeout-s", "5"];
        var first = c.Server(serverArgs);
        for (int i = 0; i < 2; i++) c.Worker(i, [.. common, "--reconnect-timeout-s", "60"]);
        await c.WaitForLog("server", "round 30 done", Long);
        first.Kill();
        long checkpointed = c.Metrics().Max(r => r.Round);
        var second = c.Start("server-resumed", ["server", "--port", c.Port.ToString(), "--bind", "127.0.0.1", "--out", c.Directory, .. serverArgs]);
        await c.WaitForLog("server-resumed", "resumed from checkpoint", Long);
        await Cluster.Exit(second, Long);
        Assert.Equal(0, second.ExitCode);
        var m = c.Metrics();
        Assert.Equal(Enumerable.Range(0, 300).Select(i => (long)i), m.Select(r => r.Round));   // no round lost or repeated
        Assert.True(checkpointed >= 30);
        var evals = m.Where(r => r.EvalLoss is not null).ToList();
        Assert.True(evals[^1].EvalLoss < 0.01 * evals[0].EvalLoss, $"suboptimality {evals[0].EvalLoss} -> {evals[^1].EvalLoss}");
        Assert.True(m.Last().BytesUp > m.First(r => r.Round == checkpointed).BytesUp);   // counters continued
    }
}
