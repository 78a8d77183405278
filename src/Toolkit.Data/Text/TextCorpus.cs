using System.Text.Json;

namespace Toolkit.Data.Text;

/// <summary>
/// Texts to run a model over (routing traces, predictor training): <c>gcide</c> (the GCIDE dictionary installed by
/// Debian's dict-gcide), a dictd file (<c>*.dict.dz</c>), a JSON-lines file (one object per line with a
/// <c>"text"</c> string), or a plain text file (one text per non-empty line).
/// </summary>
public static class TextCorpus
{
    /// <summary>The name that stands for the installed GCIDE dictionary.</summary>
    public const string Gcide = "gcide";

    /// <summary>Reads the texts of <paramref name="spec"/>, in file order; errors name the file and the line.</summary>
    public static IEnumerable<string> Read(string spec)
    {
        if (string.Equals(spec, Gcide, StringComparison.OrdinalIgnoreCase)) return GcideCorpus.ReadLines();
        if (spec.EndsWith(".dict.dz", StringComparison.OrdinalIgnoreCase)) return GcideCorpus.ReadLines(spec);
        if (!File.Exists(spec)) throw new FileNotFoundException($"corpus '{spec}' not found: give 'gcide', a .dict.dz file, a .jsonl file or a text file", spec);
        return spec.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) ? JsonLines(spec) : File.ReadLines(spec).Where(l => l.Trim().Length > 0);
    }

    static IEnumerable<string> JsonLines(string path)
    {
        int number = 0;
        foreach (var line in File.ReadLines(path))
        {
            number++;
            if (line.Trim().Length == 0) continue;
            string? text;
            try
            {
                using var doc = JsonDocument.Parse(line);
                text = doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String
                    ? t.GetString() : null;
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path}:{number}: not JSON ({e.Message.Split('.')[0]})");
            }
            yield return text ?? throw new InvalidDataException($"{path}:{number}: each line must be an object with a \"text\" string");
        }
    }
}
