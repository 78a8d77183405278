namespace Wwae.Cli;

/// <summary>Default output places (under runs/) and an early, clear error when an output folder cannot be made.</summary>
static class OutputPaths
{
    /// <summary>Where every command writes by default.</summary>
    public const string Root = "runs/wwae";

    /// <summary>Creates <paramref name="folder"/> (for option <paramref name="option"/>) or throws an <see cref="IOException"/> that says why and what to do.</summary>
    public static string EnsureFolder(string folder, string option)
    {
        try
        {
            if (File.Exists(folder)) throw new IOException($"'{folder}' is a file");
            for (var parent = Path.GetDirectoryName(Path.GetFullPath(folder)); !string.IsNullOrEmpty(parent); parent = Path.GetDirectoryName(parent))
                if (File.Exists(parent)) throw new IOException($"'{parent}' is a file");
            Directory.CreateDirectory(folder);
            return folder;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot create the {option} folder '{folder}': {e.Message.TrimEnd('.')}; choose another {option}.", e);
        }
    }

    /// <summary>Creates the folder that will hold file <paramref name="file"/>.</summary>
    public static string EnsureParentOf(string file, string option)
    {
        var parent = Path.GetDirectoryName(Path.GetFullPath(file));
        if (!string.IsNullOrEmpty(parent)) EnsureFolder(parent, option);
        if (Directory.Exists(file)) throw new IOException($"{option} '{file}' is a folder; give a file name.");
        return file;
    }
}
