namespace Kimad.Experiments;

/// <summary>
/// A kind of network condition for a comparison: the traces the workers replay (round-robin) and the shift between
/// workers. The built-in families use the traces shipped in <c>Traces/</c> beside the library.
/// </summary>
public sealed record TraceFamily(string Name, IReadOnlyList<string> Traces, double StaggerSeconds, string Description)
{
    public static readonly string[] BuiltIn = ["independent", "in-phase", "slow-dominated", "constant-fast"];

    /// <summary>One of <see cref="BuiltIn"/>, with trace paths under <paramref name="tracesDirectory"/> (default: beside the library).</summary>
    public static TraceFamily Named(string name, string? tracesDirectory = null)
    {
        string dir = tracesDirectory ?? Path.Combine(AppContext.BaseDirectory, "Traces");
        string T(string file) => Path.Combine(dir, file);
        return name.Trim().ToLowerInvariant() switch
        {
            "independent" => new(name, [T("random-walk.csv")], 37,
                "each link follows its own log-rate random walk (0.5-30 Mbit/s, 1 s steps; worker i starts 37 i s into it)"),
            "in-phase" => new(name, [T("square-100x.csv")], 0, "all links swing together: 30 Mbit/s for 10 s, 0.3 Mbit/s for 10 s"),
            "slow-dominated" => new(name, [T("square-slow.csv")], 0, "all links: 20 Mbit/s for 5 s, 0.5 Mbit/s for 15 s"),
            "constant-fast" => new(name, [T("constant-100.csv")], 0, "every link a constant 100 Mbit/s"),
            _ => throw new ArgumentException($"unknown trace family '{name}': use {string.Join(", ", BuiltIn)}"),
        };
    }
}
