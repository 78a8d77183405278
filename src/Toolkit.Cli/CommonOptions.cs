using System.CommandLine;
using Toolkit.Runtime;

namespace Toolkit.Cli;

/// <summary>Options that every tool spells the same way.</summary>
public static class CommonOptions
{
    /// <summary><c>--device auto|cpu|cuda[:N]</c>.</summary>
    public static Option<string> Device() => new("--device")
    {
        Description = "Compute device: " + ComputeDevice.Help + ".",
        DefaultValueFactory = _ => "auto",
    };

    /// <summary><c>--verbose</c>: debug-level logs.</summary>
    public static Option<bool> Verbose() => new("--verbose", "-v") { Description = "Show debug logs." };

    /// <summary><c>--seed N</c>.</summary>
    public static Option<int> Seed(int defaultValue = 0) => new("--seed")
    {
        Description = "Random seed (data order, initialisation, sampling).",
        DefaultValueFactory = _ => defaultValue,
    };
}
