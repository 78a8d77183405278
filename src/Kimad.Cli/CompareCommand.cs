using System.CommandLine;
using Kimad.Experiments;
using Microsoft.Extensions.Logging;
using Toolkit.Cli;

namespace Kimad.Cli;

/// <summary><c>kimad compare</c>: every method on every trace family with several seeds; medians and spreads.</summary>
internal static class CompareCommand
{
    static string[] List(ParseResult p, Option<string[]> o) =>
        p.GetValue(o)!.SelectMany(m => m.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray();

    public static Command Create()
    {
        var o = new LaunchCommand.Options();
        var methods = new Option<string[]>("--methods") { Description = "Methods (comma- or space-separated).", DefaultValueFactory = _ => CompareOptions.DefaultMethods, AllowMultipleArgumentsPerToken = true };
        var families = new Option<string[]>("--families") { Description = $"Trace families: {string.Join(", ", TraceFamily.BuiltIn)}; or 'custom' for --trace/--trace-stagger-s.", DefaultValueFactory = _ => TraceFamily.BuiltIn, AllowMultipleArgumentsPerToken = true };
        var seeds = new Option<int>("--seeds") { Description = "Seeds per method and family (0, 1, ...).", DefaultValueFactory = _ => 3 };
        var targets = new Option<double[]>("--targets") { Description = "Test-accuracy targets; the first one is the headline's.", DefaultValueFactory = _ => [0.65, 0.7, 0.75], AllowMultipleArgumentsPerToken = true,
            CustomParser = r => r.Tokens.SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries)).Select(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray() };
        var command = new Command("compare", "Run every method on every trace family with several seeds (raw metrics kept per run; a rerun skips finished runs); write summary.md, summary.json and time_to_target.png with medians and spreads.")
            { methods, families, seeds, targets };
        o.AddTo(command);
        o.Out.DefaultValueFactory = _ => Path.Combine("runs", "kimad", "compare");
        o.Out.Required = false;
        command.SetAction(async (parse, ct) =>
        {
            using var logging = CliApp.CreateLogging(parse.GetValue(o.Verbose));
            var log = logging.CreateLogger("Kimad.Compare");
            var launch = o.Read(parse, "kimad+", parse.GetValue(o.Out)!);
            var familyList = List(parse, families).Select(f => f == "custom"
                ? new TraceFamily("custom", launch.Traces, launch.TraceStaggerSeconds, string.Join(", ", launch.Traces.Select(Path.GetFileName)) + $", stagger {launch.TraceStaggerSeconds} s")
                : TraceFamily.Named(f)).ToList();
            int n = parse.GetValue(seeds);
            if (n < 1) throw new ArgumentException("--seeds must be at least 1");
            var options = new CompareOptions
            {
                Launch = launch, Methods = List(parse, methods), Seeds = Enumerable.Range(0, n).ToArray(), Families = familyList, Targets = parse.GetValue(targets)!,
                OutputDirectory = parse.GetValue(o.Out)!,
            };
            try
            {
                await CompareProtocol.RunAsync(options, log, new Progress<string>(line => log.LogInformation("{Line}", line)), ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                log.LogWarning("stopped by a signal; finished runs are kept and the same command continues from them");
                return LaunchCommand.Stopped;
            }
            Console.WriteLine(File.ReadAllText(Path.Combine(options.OutputDirectory, "summary.md")));   // unwrapped markdown
            return 0;
        });
        return command;
    }
}
