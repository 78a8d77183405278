using System.Diagnostics;

namespace Kimad.Shaping;

/// <summary>Runs ip/tc and turns failures into exceptions that show the command and its error output.</summary>
internal static class Shell
{
    public static string Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"'{file} {string.Join(' ', args)}' failed ({p.ExitCode}): {stderr.Trim()}");
        return stdout;
    }

    public static bool TryRun(string file, params string[] args)
    {
        try { Run(file, args); return true; } catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception) { return false; }
    }
}
