using System.Diagnostics;
using System.Reflection;

namespace Wwae.Cli.Tests;

/// <summary>What one run of the tool left: exit code, standard output, standard error.</summary>
public sealed record ToolRun(int ExitCode, string Stdout, string Stderr)
{
    /// <summary>The lines written to standard error.</summary>
    public string[] ErrorLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();

    public override string ToString() => $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
}

/// <summary>Runs the real <c>wwae</c> tool (its build output, through the dotnet host that runs the tests).</summary>
public static class Tool
{
    /// <summary>Wwae.Cli.dll in the tool's build output (recorded at build time by the project file).</summary>
    public static string Path { get; } = typeof(Tool).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "WwaeCli").Value
        ?? throw new InvalidOperationException("the test assembly does not record where Wwae.Cli.dll is");

    static string Host => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    public static ToolRun Run(params string[] args) => RunWithInput(null, args);

    /// <summary>Runs the tool with <paramref name="input"/> as its standard input (closed after it; null: none).</summary>
    public static ToolRun RunWithInput(string? input, params string[] args)
    {
        if (!File.Exists(Path)) throw new FileNotFoundException($"the tool was not built: {Path}");
        var start = new ProcessStartInfo(Host)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add(Path);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment.Remove("TOOLKIT_STACK_TRACE");
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (input != null) process.StandardInput.Write(input);
        process.StandardInput.Close();
        if (!process.WaitForExit(TimeSpan.FromMinutes(4)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"wwae {string.Join(' ', args)} ran for more than 4 minutes");
        }
        return new ToolRun(process.ExitCode, stdout.Result, stderr.Result);
    }
}
