using System.Diagnostics;

namespace Kimad.Tests;

/// <summary>A started child process whose output goes to a log file.</summary>
public sealed class ChildProcess : IDisposable
{
    readonly Process process;
    readonly StreamWriter logWriter;

    public ChildProcess(ProcessStartInfo psi, string logPath, string name)
    {
        Name = name;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(logPath))!);
        logWriter = new StreamWriter(logPath, append: false) { AutoFlush = true };
        process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (logWriter) logWriter.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (logWriter) logWriter.WriteLine(e.Data); };
        if (!process.Start()) throw new InvalidOperationException($"could not start {name}");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Name { get; }
    public int Id => process.Id;
    public bool HasExited => process.HasExited;
    public int ExitCode => process.ExitCode;

    public Task WaitAsync(CancellationToken ct) => process.WaitForExitAsync(ct);

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    static extern int kill(int pid, int signal);

    /// <summary>Sends a POSIX signal (15 = SIGTERM, 9 = SIGKILL) to the process alone, not its children.</summary>
    public void Signal(int signal)
    {
        if (kill(process.Id, signal) != 0) throw new InvalidOperationException($"kill({process.Id}, {signal}) failed");
    }

    /// <summary>Kills the process (and its children, e.g. behind 'ip netns exec').</summary>
    public void Kill()
    {
        try { if (!process.HasExited) process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        try { process.WaitForExit(5000); } catch (InvalidOperationException) { }
    }

    public void Dispose()
    {
        Kill();
        process.Dispose();
        lock (logWriter) logWriter.Dispose();
    }
}
