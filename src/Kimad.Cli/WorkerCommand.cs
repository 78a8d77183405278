using System.CommandLine;
using Kimad.Transport;
using Microsoft.Extensions.Logging;
using Toolkit.Cli;

namespace Kimad.Cli;

/// <summary><c>kimad worker</c>: one data-parallel worker process.</summary>
internal static class WorkerCommand
{
    public static Command Create()
    {
        var shared = new SharedOptions();
        var server = new Option<string>("--server") { Description = "Server address, e.g. http://10.0.0.1:50051 or https://host:50051.", Required = true };
        var id = new Option<int>("--id") { Description = "This worker's index (0..workers-1); also selects its data shard.", Required = true };
        var serverCert = new Option<string?>("--server-cert") { Description = "TLS: the server's certificate (.cer from 'kimad cert') to pin." };
        var reconnect = new Option<double>("--reconnect-timeout-s") { Description = "Keep trying to reach the server this long.", DefaultValueFactory = _ => 60 };
        var stopAfter = new Option<long?>("--stop-after-rounds") { Description = "Exit after pushing this many rounds (for failure tests)." };
        var minCompute = new Option<double>("--min-compute-ms") { Description = "A round's compute takes at least this long (fixes the compute/link balance; 0 = off).", DefaultValueFactory = _ => 0 };
        var command = new Command("worker", "Run a worker: pull the model, compute gradients on its shard, push compressed EF21 messages.") { server, id, serverCert, reconnect, stopAfter, minCompute };
        shared.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            using var logging = CliApp.CreateLogging(parse.GetValue(shared.Verbose));
            using var task = shared.CreateTask(parse);
            int worker = parse.GetValue(id);
            var options = new WorkerOptions
            {
                ServerAddress = parse.GetValue(server)!,
                WorkerId = worker,
                Workers = parse.GetValue(shared.Workers),
                Token = shared.GetToken(parse),
                PinnedCertificate = parse.GetValue(serverCert) is { } c ? Certificates.LoadPublic(c) : null,
                ReconnectTimeout = TimeSpan.FromSeconds(parse.GetValue(reconnect)),
                Seed = parse.GetValue(shared.Seed),
                UplinkThrottle = shared.Throttles(parse)(worker),
                StopAfterRounds = parse.GetValue(stopAfter),
                MinComputeMs = parse.GetValue(minCompute),
            };
            var log = logging.CreateLogger("Kimad.Worker");
            try
            {
                await new WorkerClient(task, options, log).RunAsync(ct);
                return 0;
            }
            catch (InvalidOperationException e)
            {
                log.LogError("{Message}", e.Message);   // server unreachable or refused: one line, no stack trace
                return 1;
            }
            catch (Exception e) when (ct.IsCancellationRequested && e is OperationCanceledException or Grpc.Core.RpcException { StatusCode: Grpc.Core.StatusCode.Cancelled })
            {
                log.LogInformation("worker {Worker}: stopped by a signal", worker);
                return LaunchCommand.Stopped;
            }
        });
        return command;
    }
}
