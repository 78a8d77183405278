using System.CommandLine;
using Kimad.Experiments;
using Microsoft.Extensions.Logging;
using Spectre.Console;
using Toolkit.Cli;

namespace Kimad.Cli;

/// <summary><c>kimad launch</c>: server and workers as local processes, metrics and plots.</summary>
internal static class LaunchCommand
{
    internal sealed class Options
    {
        public readonly Option<int> Workers = new("--workers") { Description = "Number of worker processes.", DefaultValueFactory = _ => 4 };
        public readonly Option<string> Task = new("--task") { Description = "quadratic, logreg or cnn.", DefaultValueFactory = _ => "logreg" };
        public readonly Option<string[]> Trace = new("--trace") { Description = "Bandwidth trace CSV (seconds,mbps); repeat for per-worker traces (round-robin).", AllowMultipleArgumentsPerToken = true };
        public readonly Option<double> Stagger = new("--trace-stagger-s") { Description = "Worker i replays its trace shifted by i x this many seconds.", DefaultValueFactory = _ => 0 };
        public readonly Option<string> Out = new("--out") { Description = "Output folder.", Required = true };
        public readonly Option<long> Rounds = new("--rounds") { Description = "Rounds to train.", DefaultValueFactory = _ => 200 };
        public readonly Option<double?> MaxWall = new("--max-wall-s") { Description = "Stop each run once its training wall time reaches this many seconds (rounds is then an upper bound)." };
        public readonly Option<double> Budget = new("--time-budget-ms") { Description = "Communication time budget per round and direction (ms).", DefaultValueFactory = _ => 100 };
        public readonly Option<bool> IndependentDirections = new("--independent-directions") { Description = "Estimate each direction of a worker's link on its own (default: a shared bottleneck; each message is sized for the slower direction's current estimate)." };
        public readonly Option<double> CommRatio = new("--comm-ratio") { Description = "Compute-aware budget: communication time per round and direction = this x the smoothed compute time of a round (replaces --time-budget-ms; 0 = off).", DefaultValueFactory = _ => 0 };
        public readonly Option<float?> Lr = new("--lr") { Description = "Learning rate (default: the task's)." };
        public readonly Option<int> Batch = new("--batch-size") { Description = "Minibatch per worker.", DefaultValueFactory = _ => 64 };
        public readonly Option<int> EvalEvery = new("--eval-every") { Description = "Evaluate every N rounds.", DefaultValueFactory = _ => 10 };
        public readonly Option<ShapingMode> Shaping = new("--shaping") { Description = "auto (tc in namespaces when possible), tc, throttle (in-process token buckets) or none.", DefaultValueFactory = _ => ShapingMode.Auto };
        public readonly Option<double> Timeout = new("--timeout-s") { Description = "Stop the run after this many seconds.", DefaultValueFactory = _ => 600 };
        public readonly Option<double> MinCompute = new("--min-compute-ms") { Description = "Every worker's round compute (gradient, decision, encoding) takes at least this long; fixes the compute/link balance whatever the machine's speed (0 = off).", DefaultValueFactory = _ => 0 };
        public readonly Option<string?> DataDir = new("--data-dir") { Description = "Fashion-MNIST folder (default: $FASHION_MNIST_DIR or /usr/share/datasets/fashion-mnist)." };
        public readonly Option<string> Levels = SharedOptions.Levels();
        public readonly Option<int> Seed = CommonOptions.Seed();
        public readonly Option<bool> Verbose = CommonOptions.Verbose();

        public void AddTo(Command c)
        {
            foreach (var o in new Option[] { Workers, Task, Levels, Trace, Stagger, Out, Rounds, MaxWall, Budget, CommRatio, IndependentDirections, Lr, Batch, EvalEvery, MinCompute, DataDir, Shaping, Timeout, Seed, Verbose }) c.Options.Add(o);
        }

        public LaunchOptions Read(ParseResult p, string method, string outDir) => new()
        {
            Workers = p.GetValue(Workers), Task = p.GetValue(Task)!, Method = method, Levels = Kimad.Compression.LevelSet.Normalize(p.GetValue(Levels)!), Traces = p.GetValue(Trace) ?? [],
            TraceStaggerSeconds = p.GetValue(Stagger), OutputDirectory = outDir, Rounds = p.GetValue(Rounds), MaxWallSeconds = p.GetValue(MaxWall), TimeBudgetMs = p.GetValue(Budget), CommRatio = p.GetValue(CommRatio), IndependentDirections = p.GetValue(IndependentDirections),
            LearningRate = p.GetValue(Lr), BatchSize = p.GetValue(Batch), EvalEvery = p.GetValue(EvalEvery), Shaping = p.GetValue(Shaping),
            RunTimeout = TimeSpan.FromSeconds(p.GetValue(Timeout)), Seed = p.GetValue(Seed), MinComputeMs = p.GetValue(MinCompute), DataDirectory = p.GetValue(DataDir),
        };
    }

    /// <summary>Exit code after SIGTERM or Ctrl+C (128 + SIGTERM).</summary>
    public const int Stopped = 143;

    public static Command Create()
    {
        var o = new Options();
        var method = SharedOptions.Method();
        var command = new Command("launch", "Run a server and N workers in this process, each behind its own shaped link (namespaces + tc when possible), replay a bandwidth trace, write metrics and plots.") { method };
        o.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            using var logging = CliApp.CreateLogging(parse.GetValue(o.Verbose));
            string m = parse.GetValue(method)!;
            Kimad.Compression.CompressionMethod.Parse(m, levels: parse.GetValue(o.Levels));
            var log = logging.CreateLogger("Kimad.Launch");
            LaunchResult result;
            try { result = await Launcher.RunAsync(o.Read(parse, m, parse.GetValue(o.Out)!), log, ct); }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                log.LogWarning("stopped by a signal; server and workers stopped, namespaces removed");
                return Stopped;
            }
            var last = result.Rounds.LastOrDefault();
            AnsiConsole.MarkupLineInterpolated($"[green]{result.Rounds.Count}[/] rounds, shaping {result.Shaping}, final train loss {last?.TrainLoss:G4}, accuracy {last?.EvalAccuracy:P1}, {last?.WallSeconds:F1} s; results in {result.OutputDirectory}");
            return result.Failure is null ? 0 : 1;
        });
        return command;
    }
}
