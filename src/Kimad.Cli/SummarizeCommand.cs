using System.CommandLine;
using Kimad.Experiments;
using Kimad.Training;
using Spectre.Console;
using Toolkit.Cli;
using Toolkit.Reporting;

namespace Kimad.Cli;

/// <summary><c>kimad summarize</c>: tabulates finished runs against several accuracy targets, with overlay plots.</summary>
internal static class SummarizeCommand
{
    public static Command Create()
    {
        var runs = new Argument<string[]>("runs") { Description = "Run folders (each with a metrics.json), or folders of runs such as a `kimad compare` output.", Arity = ArgumentArity.OneOrMore };
        var targets = new Option<double[]>("--targets") { Description = "Accuracy targets (comma- or space-separated).", DefaultValueFactory = _ => [0.65, 0.7, 0.75, 0.8], AllowMultipleArgumentsPerToken = true, CustomParser = r => r.Tokens.SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries)).Select(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray() };
        var output = new Option<string?>("--out") { Description = "Folder for comparison.md and the overlay plots (accuracy and loss against time and bytes)." };
        var command = new Command("summarize", "Compare finished runs: time to each accuracy target, best accuracy, bytes; optional overlay plots.") { runs, targets, output };
        command.SetAction(parse =>
        {
            var folders = parse.GetValue(runs)!.SelectMany(RunFolders).ToList();
            if (folders.Count == 0) throw new ArgumentException("no metrics.json found in the given folders; pass run folders or a `kimad compare` output folder");
            var loaded = folders.Select(f => (Method: MetricsFiles.ReadMethod(f), Rounds: (IReadOnlyList<RoundMetrics>)MetricsFiles.Read(f))).ToList();
            string table = Comparison.TargetsTable(loaded, parse.GetValue(targets)!).ToString();
            if (parse.GetValue(output) is { } dir)
            {
                Directory.CreateDirectory(dir);
                Files.WriteAllTextAtomically(Path.Combine(dir, "comparison.md"), table);
                Comparison.Plots(dir, loaded);
            }
            AnsiConsole.WriteLine(table);
            return 0;
        });
        return command;
    }

    static IEnumerable<string> RunFolders(string path)
    {
        if (File.Exists(Path.Combine(path, "metrics.json"))) return [path];
        if (!Directory.Exists(path)) throw new DirectoryNotFoundException($"'{path}' does not exist");
        return Directory.GetDirectories(path).Where(d => File.Exists(Path.Combine(d, "metrics.json"))).Order(StringComparer.Ordinal);
    }
}
