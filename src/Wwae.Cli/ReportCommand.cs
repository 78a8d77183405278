using System.CommandLine;
using Wwae.Reports;
using Wwae.Training;

namespace Wwae.Cli;

/// <summary><c>wwae report</c>: redraws a run's loss curve from its state.json (e.g. when the training machine had no fonts for chart text).</summary>
static class ReportCommand
{
    public static Command Create()
    {
        var runs = new Option<string[]>("--runs") { Description = "Run folders.", Required = true, AllowMultipleArgumentsPerToken = true };
        var command = new Command("report", "Redraw loss.png of run folders from their state.json.");
        command.Options.Add(runs);
        command.SetAction(p =>
        {
            foreach (var run in p.GetValue(runs)!)
            {
                RunArtifacts.WriteLossChart(Path.Combine(run, "loss.png"), Checkpoint.ReadState(run));
                Console.WriteLine($"wrote {Path.Combine(run, "loss.png")}");
            }
            return 0;
        });
        return command;
    }
}
