using System.CommandLine;
using Kimad.Training;
using Kimad.Transport;
using Toolkit.Cli;

namespace Kimad.Cli;

/// <summary><c>kimad server</c>: the parameter server process.</summary>
internal static class ServerCommand
{
    public static Command Create()
    {
        var shared = new SharedOptions();
        var method = SharedOptions.Method();
        var levels = SharedOptions.Levels();
        var rounds = new Option<long>("--rounds") { Description = "Rounds to train.", DefaultValueFactory = _ => 200 };
        var downlink = new Option<string?>("--downlink") { Description = "Downlink method (server to workers); default: the same as --method; 'uncompressed' turns downlink compression off." };
        var maxWall = new Option<double?>("--max-wall-s") { Description = "Stop once training wall time (evaluation excluded) reaches this many seconds." };
        var budget = new Option<double>("--time-budget-ms") { Description = "Communication time budget per round and direction (ms).", DefaultValueFactory = _ => 100 };
        var independent = new Option<bool>("--independent-directions") { Description = "Estimate each direction of a worker's link on its own. Default: both directions share one bottleneck, so each message is sized for the slower direction's current estimate (a drop seen on a pull shrinks the next push and vice versa)." };
        var commRatio = new Option<double>("--comm-ratio") { Description = "Compute-aware budget: communication time per round and direction = this x the smoothed compute time of a round (replaces --time-budget-ms; 0 = off).", DefaultValueFactory = _ => 0 };
        var lr = new Option<float?>("--lr") { Description = "Learning rate (default: the task's)." };
        var port = new Option<int>("--port") { Description = "TCP port.", DefaultValueFactory = _ => 50051 };
        var bind = new Option<string>("--bind") { Description = "Address to listen on.", DefaultValueFactory = _ => "0.0.0.0" };
        var output = new Option<string?>("--out") { Description = "Folder for metrics.json/metrics.csv." };
        var checkpoint = new Option<string?>("--checkpoint") { Description = "Checkpoint file, written atomically after every round." };
        var resume = new Option<bool>("--resume") { Description = "Continue from --checkpoint if it exists." };
        var evalEvery = new Option<int>("--eval-every") { Description = "Evaluate every N rounds (0 = never).", DefaultValueFactory = _ => 10 };
        var roundTimeout = new Option<double>("--round-timeout-s") { Description = "A round completes with the workers that pushed after this many seconds; the others are marked dead.", DefaultValueFactory = _ => 20 };
        var startTimeout = new Option<double>("--start-timeout-s") { Description = "Start with fewer workers than --workers after this many seconds.", DefaultValueFactory = _ => 120 };
        var cert = new Option<string?>("--cert") { Description = "TLS: server certificate PFX (create with 'kimad cert')." };
        var certPassword = new Option<string?>("--cert-password") { Description = "Password of the PFX (also $KIMAD_CERT_PASSWORD)." };
        var maxMessage = new Option<long>("--max-message-bytes") { Description = "Largest uplink message accepted.", DefaultValueFactory = _ => 64L << 20 };
        var gradientExchange = new Option<bool>("--gradient-exchange") { Description = "Aggregate gradients for training loops that own their model and optimizer (KimadCommHook); use with --task shape:L1,L2,... (the hook's ShapeSpec)." };
        var command = new Command("server", "Run the parameter server: synchronous EF21 rounds over gRPC.")
            { method, levels, downlink, rounds, maxWall, budget, commRatio, independent, lr, port, bind, output, checkpoint, resume, evalEvery, roundTimeout, startTimeout, cert, certPassword, maxMessage, gradientExchange };
        shared.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            using var logging = CliApp.CreateLogging(parse.GetValue(shared.Verbose));
            using var task = shared.CreateTask(parse);
            var options = new ServerOptions
            {
                Method = parse.GetValue(method)!,
                Levels = Kimad.Compression.LevelSet.Normalize(parse.GetValue(levels)!),
                DownlinkMethod = parse.GetValue(downlink),
                Rounds = parse.GetValue(rounds),
                MaxWallSeconds = parse.GetValue(maxWall),
                TimeBudgetMs = parse.GetValue(budget),
                CommRatio = parse.GetValue(commRatio),
                IndependentDirections = parse.GetValue(independent),
                LearningRate = parse.GetValue(lr),
                ExpectedWorkers = parse.GetValue(shared.Workers),
                RoundTimeout = TimeSpan.FromSeconds(parse.GetValue(roundTimeout)),
                StartTimeout = TimeSpan.FromSeconds(parse.GetValue(startTimeout)),
                CheckpointPath = parse.GetValue(checkpoint),
                Resume = parse.GetValue(resume),
                MetricsDirectory = parse.GetValue(output),
                EvalEvery = parse.GetValue(evalEvery),
                MaxMessageBytes = parse.GetValue(maxMessage),
                Seed = parse.GetValue(shared.Seed),
                GradientExchange = parse.GetValue(gradientExchange),
            };
            if (options.GradientExchange != task is Kimad.Tasks.ModelShape)
                throw new ArgumentException(options.GradientExchange ? "--gradient-exchange needs --task shape:L1,L2,... (the layer lengths of the training loop's model)"
                    : "--task shape:... describes a model trained elsewhere: add --gradient-exchange");
            Kimad.Compression.CompressionMethod.Parse(options.Method, levels: options.Levels);   // fail early on a bad method
            if (options.DownlinkMethod is { } d) Kimad.Compression.CompressionMethod.Parse(d, levels: options.Levels);
            var certificate = parse.GetValue(cert) is { } c ? Certificates.LoadPfx(c, parse.GetValue(certPassword) ?? Environment.GetEnvironmentVariable("KIMAD_CERT_PASSWORD")) : null;
            var network = new ServerNetwork(parse.GetValue(bind)!, parse.GetValue(port), shared.GetToken(parse), certificate, shared.Throttles(parse));
            try
            {
                var metrics = await ParameterServerHost.RunAsync(task, options, network, logging, ct);
                return metrics.Count > 0 ? 0 : 1;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return LaunchCommand.Stopped;   // the host logged the stop; resume with --checkpoint F --resume
            }
        });
        return command;
    }
}
