using System.Net;
using System.Net.Sockets;
using Kimad.Experiments;
using Kimad.Training;

namespace Kimad.Tests;

/// <summary>Starts the real kimad CLI (server, workers) as separate processes on loopback for the multi-process tests.</summary>
internal sealed class Cluster : IDisposable
{
    public static readonly ToolCommand Tool = FindCli();
    readonly List<ChildProcess> children = [];

    public Cluster(string name)
    {
        Directory = Path.Combine(Path.GetTempPath(), $"kimad-test-{name}-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(Directory);
        Port = FreePort();
    }

    public string Directory { get; }
    public IReadOnlyList<ChildProcess> Children => children;
    public int Port { get; }
    public string Address => $"http://127.0.0.1:{Port}";
    public string Log(string name) => Path.Combine(Directory, name + ".log");

    public ChildProcess Start(string name, params string[] args)
    {
        var child = new ChildProcess(Tool.StartInfo(args), Log(name), name);
        children.Add(child);
        return child;
    }

    public ChildProcess Server(params string[] extra) => Start("server", ["server", "--port", Port.ToString(), "--bind", "127.0.0.1", "--out", Directory, .. extra]);

    public ChildProcess Worker(int id, params string[] extra) => Start($"worker{id}", ["worker", "--server", Address, "--id", id.ToString(), .. extra]);

    public List<RoundMetrics> Metrics() => MetricsFiles.Read(Directory);

    public string ReadLog(string name)
    {
        using var s = new FileStream(Log(name), FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return new StreamReader(s).ReadToEnd();
    }

    /// <summary>Waits (bounded) until the log contains the text.</summary>
    public async Task WaitForLog(string name, string text, TimeSpan timeout)
    {
        var end = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < end)
        {
            if (File.Exists(Log(name)) && ReadLog(name).Contains(text)) return;
            await Task.Delay(100);
        }
        throw new TimeoutException($"'{text}' did not appear in {name}'s log within {timeout}:\n{(File.Exists(Log(name)) ? ReadLog(name)[^Math.Min(3000, ReadLog(name).Length)..] : "(no log)")}");
    }

    /// <summary>Runs the CLI to completion; standard output and standard error apart.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunCli(TimeSpan timeout, params string[] args)
    {
        var psi = Tool.StartInfo(args);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { p.Kill(true); throw new TimeoutException($"kimad {string.Join(' ', args)} did not exit within {timeout}"); }
        return (p.ExitCode, await stdout, await stderr);
    }

    public static async Task Exit(ChildProcess p, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await p.WaitAsync(cts.Token);
    }

    public void Dispose()
    {
        foreach (var c in children) c.Dispose();
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }

    public static int FreePortForTests() => FreePort();

    static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    static ToolCommand FindCli()
    {
        // tests/Kimad.Tests/bin/CONFIG/net10.0/ -> src/Kimad.Cli/bin/CONFIG/net10.0/Kimad.Cli.dll
        var bin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
        string tfm = bin.Name, config = bin.Parent!.Name;
        var dir = bin;
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Toolkit.slnx"))) dir = dir.Parent;
        if (dir is null) throw new InvalidOperationException("repository root (Toolkit.slnx) not found above " + AppContext.BaseDirectory);
        string dll = Path.Combine(dir.FullName, "src", "Kimad.Cli", "bin", config, tfm, "Kimad.Cli.dll");
        if (!File.Exists(dll)) throw new FileNotFoundException($"build src/Kimad.Cli first: {dll} is missing", dll);
        return new ToolCommand("dotnet", [dll]);
    }
}
