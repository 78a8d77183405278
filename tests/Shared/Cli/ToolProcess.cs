using System.Diagnostics;
using System.Reflection;

namespace ToolTesting;

/// <summary>What one run of a tool left: exit code, standard output, standard error.</summary>
public sealed record ToolRun(int ExitCode, string Stdout, string Stderr)
{
    /// <summary>The lines written to standard error.</summary>
    public string[] ErrorLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();

    public override string ToString() => $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
}

/// <summary>Runs a real tool (its build output, through the dotnet host that runs the tests) as its own process.</summary>
public static class ToolProcess
{
    /// <summary>The tool's dll recorded by the test project file as assembly metadata <paramref name="key"/>.</summary>
    public static string RecordedPath(Assembly tests, string key) =>
        tests.GetCustomAttributes<AssemblyMetadataAttribute>().SingleOrDefault(a => a.Key == key)?.Value
        ?? throw new InvalidOperationException($"the test assembly does not record where the tool is ({key})");

    static string Host => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    /// <summary>Runs <paramref name="dll"/> with <paramref name="args"/> and <paramref name="input"/> as standard input (closed after it; null: none).</summary>
    public static ToolRun Run(string dll, string name, TimeSpan limit, string? input, string[] args)
    {
        if (!File.Exists(dll)) throw new FileNotFoundException($"the tool was not built: {dll}");
        var start = new ProcessStartInfo(Host)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add(dll);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment.Remove("TOOLKIT_STACK_TRACE");
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (input != null) process.StandardInput.Write(input);
        process.StandardInput.Close();
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{name} {string.Join(' ', args)} ran for more than {limit.TotalMinutes:F0} minutes");
        }
        return new ToolRun(process.ExitCode, stdout.Result, stderr.Result);
    }
}
