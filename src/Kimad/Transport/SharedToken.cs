namespace Kimad.Transport;

/// <summary>
/// Where the shared secret comes from, first match wins: a token file (option), the token itself (option),
/// the file named by <c>$KIMAD_TOKEN_FILE</c>, <c>$KIMAD_TOKEN</c>. A file keeps the secret out of process listings;
/// its first line is the token.
/// </summary>
public static class SharedToken
{
    public const string Variable = "KIMAD_TOKEN";
    public const string FileVariable = "KIMAD_TOKEN_FILE";

    public static string? Resolve(string? token, string? tokenFile)
    {
        if (!string.IsNullOrEmpty(tokenFile)) return Read(tokenFile, "token file option");
        if (!string.IsNullOrEmpty(token)) return token;
        if (Environment.GetEnvironmentVariable(FileVariable) is { Length: > 0 } path) return Read(path, "$" + FileVariable);
        return Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } t ? t : null;
    }

    static string Read(string path, string source)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"token file '{path}' ({source}) not found", path);
        string token = File.ReadLines(path).FirstOrDefault()?.Trim() ?? "";
        if (token.Length == 0) throw new InvalidDataException($"token file '{path}' ({source}) is empty; put the shared secret on its first line");
        return token;
    }
}
