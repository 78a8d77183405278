using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace ExpertFlow.Tests.Architecture;

/// <summary>
/// The dependency rules ARCHITECTURE.md draws, checked on the sources: libraries never reference a command-line project
/// nor speak in command-line options, and ExpertFlow's folders depend only downwards.
/// </summary>
public class DependencyRuleTests
{
    /// <summary>ExpertFlow's folders from the bottom up; a folder may use its own rank and the ones below.</summary>
    static readonly Dictionary<string, int> Rank = new()
    {
        ["Model"] = 0,
        ["Offloading"] = 1,
        ["Tracing"] = 2,
        ["Prediction"] = 3,
        ["Scheduling"] = 4,
        ["Engine"] = 5,
        ["Demo"] = 5,
        ["Evaluation"] = 6,
    };

    /// <summary>Libraries held to the no-option-strings rule.</summary>
    static readonly string[] CheckedLibraries = ["ExpertFlow", "Toolkit.Runtime", "Toolkit.Data", "Toolkit.Reporting"];

    static string Root
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir != null && !File.Exists(Path.Combine(dir.FullName, "Toolkit.slnx"))) dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("repository root (Toolkit.slnx) not found above the test binaries");
        }
    }

    static IEnumerable<string> Sources(string project) =>
        Directory.EnumerateFiles(Path.Combine(Root, "src", project), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"));

    [Fact]
    public void No_library_references_a_command_line_project()
    {
        var libraries = Directory.EnumerateDirectories(Path.Combine(Root, "src")).Select(Path.GetFileName).Where(n => !n!.EndsWith(".Cli")).ToList();
        Assert.NotEmpty(libraries);
        foreach (var name in libraries)
        {
            var project = XDocument.Load(Path.Combine(Root, "src", name!, name + ".csproj"));
            var references = project.Descendants("ProjectReference").Select(r => (string?)r.Attribute("Include") ?? "").ToList();
            Assert.DoesNotContain(references, r => Path.GetFileNameWithoutExtension(r).EndsWith(".Cli"));
        }
    }

    [Theory]
    [MemberData(nameof(Libraries))]
    public void Libraries_do_not_speak_in_command_line_options(string library)
    {
        // A string literal holding "--word" names a CLI option: the library should say what the value is instead.
        var option = new Regex("\"(?:[^\"\\\\\\n]|\\\\.)*?(?<![\\w-])--[a-z][a-z-]+(?:[^\"\\\\\\n]|\\\\.)*\"");
        var offenders = Sources(library)
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (f, i, line)))
            .Where(x => !x.line.TrimStart().StartsWith("//") && option.IsMatch(x.line))
            .Select(x => $"{Path.GetRelativePath(Root, x.f)}:{x.i + 1}: {x.line.Trim()}")
            .ToList();
        Assert.True(offenders.Count == 0, "library code names command-line options:\n" + string.Join("\n", offenders));
    }

    public static TheoryData<string> Libraries() => new(CheckedLibraries);

    [Fact]
    public void ExpertFlow_folders_depend_only_downwards()
    {
        var folderOf = new Regex(@"^namespace ExpertFlow\.(\w+)", RegexOptions.Multiline);
        // ExpertFlow.X anywhere, or X.Type written relative to the ExpertFlow namespace (C# resolves it from a sibling folder)
        var uses = new Regex(@"\bExpertFlow\.(\w+)\b|(?<![\w.])(Offloading|Tracing|Prediction|Scheduling|Demo|Evaluation)\.[A-Z]"); // (not Engine: OffloadedExperts.Engine is a property)
        var violations = new List<string>();
        foreach (var file in Sources("ExpertFlow"))
        {
            string relative = Path.GetRelativePath(Path.Combine(Root, "src", "ExpertFlow"), file);
            string folder = relative.Split(Path.DirectorySeparatorChar)[0];
            Assert.True(Rank.ContainsKey(folder), $"{relative}: folder '{folder}' has no place in the dependency order (add it to ARCHITECTURE.md and this test)");
            string text = File.ReadAllText(file);
            var declared = folderOf.Match(text);
            Assert.True(declared.Success && declared.Groups[1].Value == folder, $"{relative}: its namespace must be ExpertFlow.{folder}[...]");
            foreach (Match m in uses.Matches(text))
            {
                string used = m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value;
                if (Rank.TryGetValue(used, out int rank) && rank > Rank[folder]) violations.Add($"{relative} ({folder}) uses ExpertFlow.{used}");
            }
        }
        Assert.True(violations.Count == 0, "upward dependencies:\n" + string.Join("\n", violations.Distinct()));
    }

    [Fact]
    public void Every_ExpertFlow_folder_is_drawn_in_the_architecture_document()
    {
        string architecture = File.ReadAllText(Path.Combine(Root, "ARCHITECTURE.md"));
        foreach (var folder in Rank.Keys) Assert.Contains($"src/ExpertFlow/{folder}", architecture);
    }
}
