using System.Text.Json;

namespace ExpertFlow.Cli;

/// <summary>
/// Prompts from a file: a text file (one prompt per non-empty line) or JSON lines (one object per line with a
/// "prompt" or "text" string). Errors name the file and the line.
/// </summary>
internal static class PromptFile
{
    public static IReadOnlyList<string> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"--prompts-file '{path}' not found", path);
        var prompts = new List<string>();
        int number = 0;
        bool jsonl = path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase);
        foreach (var line in File.ReadLines(path))
        {
            number++;
            if (line.Trim().Length == 0) continue;
            if (!jsonl) { prompts.Add(line); continue; }
            try
            {
                using var doc = JsonDocument.Parse(line);
                var root = doc.RootElement;
                string? text = root.ValueKind == JsonValueKind.Object
                    && (root.TryGetProperty("prompt", out var p) || root.TryGetProperty("text", out p)) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;
                prompts.Add(text ?? throw new InvalidDataException($"{path}:{number}: each line must be an object with a \"prompt\" (or \"text\") string"));
            }
            catch (JsonException e) { throw new InvalidDataException($"{path}:{number}: not JSON ({e.Message.Split('.')[0]})"); }
        }
        if (prompts.Count == 0) throw new InvalidDataException($"{path} holds no prompt");
        return prompts;
    }
}
