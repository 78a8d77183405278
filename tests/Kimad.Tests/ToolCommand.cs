namespace Kimad.Tests;

/// <summary>How to start this tool again as a child process (apphost, or 'dotnet Kimad.Cli.dll').</summary>
public sealed record ToolCommand(string FileName, IReadOnlyList<string> PrefixArguments)
{
    /// <summary>The running process's own command line.</summary>
    public static ToolCommand Current(string entryAssemblyPath)
    {
        string process = Environment.ProcessPath ?? "dotnet";
        return Path.GetFileNameWithoutExtension(process) == "dotnet" ? new ToolCommand(process, [entryAssemblyPath]) : new ToolCommand(process, []);
    }

    public System.Diagnostics.ProcessStartInfo StartInfo(IEnumerable<string> args, string? networkNamespace = null)
    {
        System.Diagnostics.ProcessStartInfo psi;
        if (networkNamespace is null)
        {
            psi = new System.Diagnostics.ProcessStartInfo(FileName);
            foreach (var a in PrefixArguments) psi.ArgumentList.Add(a);
        }
        else
        {
            psi = new System.Diagnostics.ProcessStartInfo("ip");
            foreach (var a in new[] { "netns", "exec", networkNamespace, FileName }.Concat(PrefixArguments)) psi.ArgumentList.Add(a);
        }
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.UseShellExecute = false;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        return psi;
    }
}
