using System.CommandLine;
using ExpertFlow.Offloading;
using ExpertFlow.Offloading.Policies;
using Toolkit.Cli;

namespace ExpertFlow.Cli;

/// <summary>
/// The offloading options of the commands that load a model (<c>--policy</c>, <c>--memory</c>, <c>--host-tier</c>,
/// <c>--stats-json</c>), bound to one <see cref="OffloadOptions"/>. Without --policy and --memory all experts stay resident.
/// </summary>
internal sealed class OffloadSettings
{
    readonly Option<string?> policy = new("--policy")
    {
        Description = $"Expert offloading policy: {string.Join(", ", PolicySpec.BaseNames)} (expertflow: PLEC fed by the routing-path predictor in MODEL/predictor, " +
            "see train-predictor); append +lookahead (or +lookahead:N) to also copy the N experts per layer that the next layer's router, applied one layer early, " +
            "guesses, and then +cpu to compute some missed experts on the host CPU from the host arena instead of copying them (faster when the link is the " +
            "bottleneck; on CUDA not bit-identical to computing on the GPU). Default: all experts resident; lru when only --memory is given.",
    };
    readonly Option<string?> memory = new("--memory") { Description = "Memory budget, e.g. 6.5GiB: on CUDA everything the model holds on the device; on the CPU the RAM of cached experts." };
    readonly Option<string> tier = new("--host-tier") { Description = "Where experts wait: auto (pinned arena on CUDA, memory-mapped checkpoint on the CPU), arena or disk.", DefaultValueFactory = _ => "auto" };
    readonly Option<string?> statsJson = new("--stats-json") { Description = "Write the offloading statistics (hit ratio per layer, transfers, stall time, memory) to this JSON file." };
    readonly Option<string?> predictor = new("--predictor") { Description = "The routing-path predictor's folder for --policy expertflow (default MODEL/predictor)." };

    public void AddTo(Command command)
    {
        command.Options.Add(policy);
        command.Options.Add(memory);
        command.Options.Add(tier);
        command.Options.Add(statsJson);
        command.Options.Add(predictor);
    }

    /// <summary>What the user asked for, or null for all-resident.</summary>
    public OffloadOptions? Bind(ParseResult r)
    {
        string? p = r.GetValue(policy), m = r.GetValue(memory);
        if (p == null && m == null)
        {
            if (r.GetValue(statsJson) != null) throw new ArgumentException("--stats-json needs offloading: give --policy or --memory.");
            return null;
        }
        var spec = p == null ? PolicySpec.Default : Policy(p);
        var tierValue = OptionValues.Choice(r.GetValue(tier)!, "--host-tier", "auto", "arena", "disk") switch
        {
            "arena" => HostTier.Arena,
            "disk" => HostTier.Disk,
            _ => HostTier.Auto,
        };
        return new OffloadOptions(spec, m == null ? MemoryBudget.Unlimited : MemoryBudget.Bytes(OptionValues.Size(m, "--memory")), tierValue);
    }

    public string? StatsJson(ParseResult r) => r.GetValue(statsJson);

    public string? PredictorFolder(ParseResult r) => r.GetValue(predictor);

    /// <summary>A policy name as the user wrote it, the error naming the option.</summary>
    public static PolicySpec Policy(string text)
    {
        try { return PolicySpec.Parse(text); }
        catch (ArgumentException e) { throw new ArgumentException("--" + e.Message); }
    }
}
