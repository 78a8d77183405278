using System.CommandLine;
using Kimad.Bandwidth;
using Kimad.Tasks;

namespace Kimad.Cli;

/// <summary>Options spelled the same way by server, worker and launch.</summary>
internal sealed class SharedOptions
{
    public readonly Option<string> Task = new("--task") { Description = "Training task: quadratic, logreg or cnn (Fashion-MNIST).", DefaultValueFactory = _ => "logreg" };
    public readonly Option<int> Workers = new("--workers") { Description = "Number of workers.", DefaultValueFactory = _ => 4 };
    public readonly Option<int> Seed = Toolkit.Cli.CommonOptions.Seed();
    public readonly Option<int> BatchSize = new("--batch-size") { Description = "Minibatch size per worker.", DefaultValueFactory = _ => 64 };
    public readonly Option<string?> DataDir = new("--data-dir") { Description = "Fashion-MNIST folder (default: $FASHION_MNIST_DIR or /usr/share/datasets/fashion-mnist)." };
    public readonly Option<string?> Token = new("--token") { Description = "Shared secret; every call must carry it (visible in process listings: prefer --token-file, $KIMAD_TOKEN_FILE or $KIMAD_TOKEN)." };
    public readonly Option<string?> TokenFile = new("--token-file") { Description = "File whose first line is the shared secret (also $KIMAD_TOKEN_FILE)." };
    public readonly Option<string?> ThrottleTrace = new("--throttle-trace") { Description = "In-process shaping: trace CSV(s), comma-separated, assigned to workers round-robin." };
    public readonly Option<long> TraceEpoch = new("--trace-epoch-ms") { Description = "Unix time (ms) at which the traces start (default: now).", DefaultValueFactory = _ => 0 };
    public readonly Option<double> TraceStagger = new("--trace-stagger-s") { Description = "Worker i replays its trace shifted by i x this many seconds.", DefaultValueFactory = _ => 0 };
    public readonly Option<bool> Verbose = Toolkit.Cli.CommonOptions.Verbose();

    /// <summary>The compression method (server and launch).</summary>
    public static Option<string> Method() => new("--method")
    {
        Description = "uncompressed, ef21-fixed:RATIO (TopK) or ef21-fixed:COMPRESSOR (randk:R, qsgd:S, natural, sign, fp16, bf16, powersgd:RANK), " +
            "kimad, kimad+ (time budget: --time-budget-ms or --comm-ratio), kimad:auto, kimad+:auto (the message size with the best EF21 " +
            "contraction per second of round time) or kimad-progress (the message size with the best measured loss decrease per second); " +
            "an adaptive method may name its level set after '@' (kimad+@mixed).",
        DefaultValueFactory = _ => "kimad+",
    };

    /// <summary>The level set of the adaptive methods (server, launch, compare).</summary>
    public static Option<string> Levels() => new("--levels")
    {
        Description = "Levels the adaptive methods choose from per layer: topk, randk, qsgd, natural, sign, fp16, bf16, powersgd " +
            "(comma-separated families) or mixed (all but randk); identity is always one. A method's own @LEVELS wins.",
        DefaultValueFactory = _ => "topk",
    };

    public void AddTo(Command c)
    {
        foreach (var o in new Option[] { Task, Workers, Seed, BatchSize, DataDir, Token, TokenFile, ThrottleTrace, TraceEpoch, TraceStagger, Verbose }) c.Options.Add(o);
    }

    public ITrainingTask CreateTask(ParseResult p) =>
        TrainingTasks.Create(p.GetValue(Task)!, new TaskOptions(p.GetValue(Seed), p.GetValue(BatchSize), p.GetValue(DataDir)));

    public string? GetToken(ParseResult p) => Kimad.Transport.SharedToken.Resolve(p.GetValue(Token), p.GetValue(TokenFile));

    /// <summary>The token bucket for worker <paramref name="worker"/>'s link, or null without --throttle-trace.</summary>
    public Func<int, TokenBucketThrottle?> Throttles(ParseResult p)
    {
        string? spec = p.GetValue(ThrottleTrace);
        if (string.IsNullOrWhiteSpace(spec)) return _ => null;
        var traces = spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(BandwidthTrace.Load).ToArray();
        long epoch = p.GetValue(TraceEpoch) is > 0 and var e ? e : DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        return TokenBucketThrottle.PerWorker(traces, epoch, p.GetValue(TraceStagger));
    }
}
