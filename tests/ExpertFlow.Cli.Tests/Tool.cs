global using ToolTesting;

namespace ExpertFlow.Cli.Tests;

/// <summary>Runs the real <c>expertflow</c> tool (see <see cref="ToolProcess"/>).</summary>
public static class Tool
{
    /// <summary>ExpertFlow.Cli.dll in the tool's build output (recorded at build time by the project file).</summary>
    public static string Path { get; } = ToolProcess.RecordedPath(typeof(Tool).Assembly, "ExpertFlowCli");

    public static ToolRun Run(params string[] args) => RunWithInput(null, args);

    /// <summary>Runs the tool with <paramref name="input"/> as its standard input (closed after it; null: none).</summary>
    public static ToolRun RunWithInput(string? input, params string[] args) => ToolProcess.Run(Path, "expertflow", TimeSpan.FromMinutes(2), input, args);
}
