global using ToolTesting;

namespace Wwae.Cli.Tests;

/// <summary>Runs the real <c>wwae</c> tool (see <see cref="ToolProcess"/>).</summary>
public static class Tool
{
    /// <summary>Wwae.Cli.dll in the tool's build output (recorded at build time by the project file).</summary>
    public static string Path { get; } = ToolProcess.RecordedPath(typeof(Tool).Assembly, "WwaeCli");

    public static ToolRun Run(params string[] args) => ToolProcess.Run(Path, "wwae", TimeSpan.FromMinutes(4), null, args);
}
