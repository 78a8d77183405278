using System.CommandLine;
using Kimad.Experiments;
using Microsoft.Extensions.Logging;
using Spectre.Console;
using Toolkit.Cli;
using Toolkit.Reporting;

namespace Kimad.Cli;

/// <summary><c>kimad compare</c>: runs several methods on the same trace and prints a table.</summary>
internal static class CompareCommand
{
    public static Command Create()
    {
        var o = new LaunchCommand.Options();
        var methods = new Option<string[]>("--methods") { Description = "Methods to run (comma- or space-separated).", DefaultValueFactory = _ => ["uncompressed", "ef21-fixed:0.1", "kimad", "kimad+"], AllowMultipleArgumentsPerToken = true };
        var targetAccuracy = new Option<double?>("--target-accuracy") { Description = "Report the wall time to reach this test accuracy." };
        var targetLoss = new Option<double?>("--target-loss") { Description = "Report the wall time to reach this evaluation loss (tasks without accuracy)." };
        var command = new Command("compare", "Run methods one after another on the same task and trace; print and save a comparison table and plots.") { methods, targetAccuracy, targetLoss };
        o.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            using var logging = CliApp.CreateLogging(parse.GetValue(o.Verbose));
            var log = logging.CreateLogger("Kimad.Compare");
            var list = parse.GetValue(methods)!.SelectMany(m => m.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
            foreach (var m in list) Kimad.Compression.CompressionMethod.Parse(m);
            string root = parse.GetValue(o.Out)!;
            var results = new List<(string Method, LaunchResult Result)>();
            foreach (var m in list)
            {
                string dir = Path.Combine(root, m.Replace(':', '_').Replace('+', 'p'));
                results.Add((m, await Launcher.RunAsync(o.Read(parse, m, dir), log, ct)));
            }
            var rows = results.Select(r => Comparison.Summarise(r.Method, r.Result.Rounds, parse.GetValue(targetAccuracy), parse.GetValue(targetLoss))).ToList();
            string table = Comparison.Table(rows, parse.GetValue(targetAccuracy), parse.GetValue(targetLoss)).ToString();
            Files.WriteAllTextAtomically(Path.Combine(root, "comparison.md"), table);
            Comparison.Plots(root, results.Select(r => (r.Method, r.Result.Rounds)).ToList());
            AnsiConsole.WriteLine(table);
            return 0;
        });
        return command;
    }
}
