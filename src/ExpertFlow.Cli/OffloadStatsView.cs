using System.Globalization;
using ExpertFlow.Offloading;
using Spectre.Console;
using Toolkit.Cli;
using Toolkit.Runtime;

namespace ExpertFlow.Cli;

/// <summary>Prints an offloaded run's statistics on standard error (standard output carries only generated text): one table row, the host-compute line and the hit ratio per layer.</summary>
internal static class OffloadStatsView
{
    public static void Print(OffloadStats stats)
    {
        var inv = CultureInfo.InvariantCulture;
        var table = new Table().AddColumns("policy", "budget", "slots", "hits", "moves", "GB", "stall s", "device mem");
        table.AddRow(stats.Policy, MemorySize.Format(stats.Plan.BudgetBytes), $"{stats.Plan.Slots}/{stats.Plan.TotalExperts}",
            stats.HitRatio.ToString("0.000", inv), (stats.DemandTransfers + stats.PrefetchTransfers).ToString(inv),
            (stats.TransferBytes / 1e9).ToString("0.00", inv), stats.StallSeconds.ToString("0.000", inv),
            stats.PeakMeasuredDeviceBytes >= 0 ? MemorySize.Format(stats.PeakMeasuredDeviceBytes) : MemorySize.Format(stats.Plan.PlannedBytes) + " planned");
        CliApp.Error.Write(table);
        if (stats.HostComputedExperts > 0)
            CliApp.Error.MarkupLineInterpolated($"[grey]computed on the host instead of copied: {stats.HostComputedExperts} experts, {stats.HostComputeSeconds.ToString("0.000", inv)} s[/]");
        CliApp.Error.MarkupLineInterpolated($"[grey]hit ratio per layer: {string.Join(" ", stats.Layers.Select(l => l.HitRatio.ToString("0.00", inv)))}; decode steps only: {stats.DecodeHitRatio.ToString("0.000", inv)}[/]");
    }
}
