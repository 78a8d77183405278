using System.Text;

namespace Toolkit.Reporting;

/// <summary>Builds a GitHub-flavoured markdown table.</summary>
public sealed class MarkdownTable(params string[] headers)
{
    readonly List<string[]> rows = [];

    /// <summary>Adds a row; it must have one cell per header.</summary>
    public MarkdownTable Add(params object[] cells)
    {
        if (cells.Length != headers.Length) throw new ArgumentException($"row has {cells.Length} cells for {headers.Length} columns");
        rows.Add(cells.Select(c => c switch { double d => d.ToString("G4", System.Globalization.CultureInfo.InvariantCulture), float f => f.ToString("G4", System.Globalization.CultureInfo.InvariantCulture), _ => c?.ToString() ?? "" }).ToArray());
        return this;
    }

    /// <summary>The table as markdown text.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append("| ").AppendJoin(" | ", headers).AppendLine(" |");
        sb.Append('|').AppendJoin("", headers.Select(_ => " --- |")).AppendLine();
        foreach (var row in rows) sb.Append("| ").AppendJoin(" | ", row.Select(c => c.Replace("|", "\\|"))).AppendLine(" |");
        return sb.ToString();
    }
}
