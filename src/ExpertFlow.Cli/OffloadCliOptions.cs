using System.CommandLine;
using System.Globalization;
using ExpertFlow.Model;
using ExpertFlow.Offloading;
using ExpertFlow.Offloading.Bench;
using ExpertFlow.Offloading.Policies;
using Microsoft.Extensions.Logging;
using Spectre.Console;
using TorchSharp;

namespace ExpertFlow.Cli;

/// <summary>
/// The offloading options of <c>expertflow generate</c>: <c>--policy</c>, <c>--memory</c>, <c>--host-tier</c>,
/// <c>--stats-json</c>. Without --policy and --memory all experts stay resident (the runtime's default provider).
/// </summary>
internal sealed class OffloadCliOptions
{
    readonly Option<string?> policy = new("--policy") { Description = "Expert offloading policy: " + string.Join(", ", PolicyFactory.Names) + "; append +lookahead (or +lookahead:N) to any of them to also copy the N experts per layer that the next layer's router, applied one layer early, guesses, and then +cpu to compute some missed experts on the host CPU from the host arena instead of copying them (faster when the link is the bottleneck; on CUDA not bit-identical to computing on the GPU) (default: all experts resident; lru when only --memory is given)." };
    readonly Option<string?> memory = new("--memory") { Description = "Memory budget, e.g. 6.5GiB: on CUDA everything the model holds on the device; on CPU the RAM of cached experts." };
    readonly Option<string> tier = new("--host-tier") { Description = "Where experts wait: auto (pinned arena on CUDA, memory-mapped checkpoint on CPU), arena or disk.", DefaultValueFactory = _ => "auto" };
    readonly Option<string?> statsJson = new("--stats-json") { Description = "Write the offloading statistics (hit ratio per layer, transfers, stall time, memory) to this JSON file." };

    public void AddTo(Command command)
    {
        command.Options.Add(policy);
        command.Options.Add(memory);
        command.Options.Add(tier);
        command.Options.Add(statsJson);
    }

    /// <summary>What the user asked for, or null for all-resident.</summary>
    public sealed record Choice(OffloadOptions Options, string? StatsJson);

    public Choice? Read(ParseResult r)
    {
        string? p = r.GetValue(policy), m = r.GetValue(memory), s = r.GetValue(statsJson);
        if (p == null && m == null)
        {
            if (s != null) throw new ArgumentException("--stats-json needs offloading: give --policy or --memory.");
            return null;
        }
        p ??= "lru";
        PolicyFactory.Create(p);
        var hostTier = r.GetValue(tier)!.ToLowerInvariant() switch
        {
            "auto" => HostTier.Auto,
            "arena" => HostTier.Arena,
            "disk" => HostTier.Disk,
            var t => throw new ArgumentException($"'--host-tier {t}' is unknown; use auto, arena or disk."),
        };
        return new Choice(new OffloadOptions(p, m == null ? null : MemorySize.Parse(m), hostTier), s);
    }

    /// <summary>A provider whose footprint is read from the model once it is loaded (<paramref name="model"/> is called then).</summary>
    public static OffloadingExpertProvider CreateProvider(Choice choice, Func<IMoeModel> model, int rows, int promptTokens, int capacity, ILogger? log) =>
        new(choice.Options, () =>
        {
            var m = model();
            long resident = OffloadingExpertProvider.ResidentWeightBytes(m.Experts) ?? (m as MoeCausalLM)?.DenseBytes ?? 0;
            long kv = (m as MoeCausalLM)?.CacheBytes ?? 0;
            return DeviceFootprint.ForModel(resident, kv, ActivationEstimate.Bytes(m.Config, rows, promptTokens, capacity, m.DType), m.Device, rows);
        }, log);

    /// <summary>After generation: the stats table (unless JSON output) and --stats-json.</summary>
    public static object? Finish(Choice choice, OffloadingExpertProvider provider, bool json)
    {
        provider.Finish();
        var stats = provider.Stats;
        if (stats == null) return null;
        if (choice.StatsJson != null) OffloadReport.WriteJson(choice.StatsJson, stats);
        if (!json)
        {
            var inv = CultureInfo.InvariantCulture;
            var table = new Table().AddColumns("policy", "budget", "slots", "hits", "moves", "GB", "stall s", "device mem");
            table.AddRow(stats.Policy, MemorySize.Format(stats.Plan.BudgetBytes), $"{stats.Plan.Slots}/{stats.Plan.TotalExperts}",
                stats.HitRatio.ToString("0.000", inv), (stats.DemandTransfers + stats.PrefetchTransfers).ToString(inv),
                (stats.TransferBytes / 1e9).ToString("0.00", inv), stats.StallSeconds.ToString("0.000", inv),
                stats.PeakMeasuredDeviceBytes >= 0 ? MemorySize.Format(stats.PeakMeasuredDeviceBytes) : MemorySize.Format(stats.Plan.PlannedBytes) + " planned");
            AnsiConsole.Write(table);
            if (stats.HostComputedExperts > 0)
                AnsiConsole.MarkupLineInterpolated($"[grey]computed on the host instead of copied: {stats.HostComputedExperts} experts, {stats.HostComputeSeconds.ToString("0.000", inv)} s[/]");
            AnsiConsole.MarkupLineInterpolated($"[grey]hit ratio per layer: {string.Join(" ", stats.Layers.Select(l => l.HitRatio.ToString("0.00", CultureInfo.InvariantCulture)))}; decode steps only: {stats.DecodeHitRatio.ToString("0.000", CultureInfo.InvariantCulture)}[/]");
        }
        return OffloadReport.Document(stats);
    }
}
