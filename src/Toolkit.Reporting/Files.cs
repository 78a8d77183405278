namespace Toolkit.Reporting;

/// <summary>Atomic file writes: a reader never sees half a file, a crash never destroys the old one.</summary>
public static class Files
{
    /// <summary>Lets <paramref name="write"/> fill a temporary file beside <paramref name="path"/>, then renames it over the target.</summary>
    public static void WriteAtomically(string path, Action<string> write)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string temp = full + $".tmp-{Environment.ProcessId}-{Guid.NewGuid():N}" + Path.GetExtension(full);
        try
        {
            write(temp);
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>Writes text atomically.</summary>
    public static void WriteAllTextAtomically(string path, string text) => WriteAtomically(path, t => File.WriteAllText(t, text));
}
