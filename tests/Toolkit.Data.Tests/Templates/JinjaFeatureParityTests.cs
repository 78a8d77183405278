using System.Text.Json.Nodes;
using Toolkit.Data.Text.Templates;

namespace Toolkit.Data.Tests.Templates;

/// <summary>
/// Hundreds of small templates (features.json: whitespace control, literals, operators, filters, tests, string and
/// dict methods, loops, scoping, macros, errors) against jinja2's renders in transformers' environment.
/// </summary>
public class JinjaFeatureParityTests
{
    static readonly Lazy<JsonObject> Spec = new(() =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(ChatTemplateFixtures.Directory, "features.json")))!.AsObject());

    static Dictionary<string, object?> Variables()
    {
        var variables = new Dictionary<string, object?>();
        foreach (var (key, value) in Spec.Value["variables"]!.AsObject())
            variables[key] = value?.DeepClone();
        variables["tools"] = null;
        variables["documents"] = null;
        variables["add_generation_prompt"] = false;
        variables["unk_token"] = "<unk>";
        return variables;
    }

    [Fact]
    public void Renders_like_jinja2()
    {
        var cases = ChatTemplateFixtures.Expected["features"]!.AsArray().Select(c => c!.AsObject()).ToList();
        Assert.True(cases.Count >= 500, $"only {cases.Count} feature cases");
        var failures = new List<string>();
        foreach (var expected in cases)
        {
            string source = (string)expected["template"]!;
            string? actual = null;
            TemplateException? error = null;
            try
            {
                actual = JinjaTemplate.Parse(source, "feature").Render(Variables(), ChatTemplateFixtures.Now);
            }
            catch (TemplateException e)
            {
                error = e;
            }
            if (expected["output"] is JsonNode output)
            {
                if (error is not null)
                    failures.Add($"{source}\n    expected {Show((string)output!)}, got {error.Kind}: {error.Reason}");
                else if (actual != (string)output!)
                    failures.Add($"{source}\n    expected {Show((string)output!)}, got {Show(actual!)}");
            }
            else
            {
                string want = (string)expected["error"]!;
                if (error is null)
                    failures.Add($"{source}\n    expected {expected["error_type"]}: {want}, got {Show(actual!)}");
                else if (error.Reason != want)
                    failures.Add($"{source}\n    expected {expected["error_type"]}: {want}, got {error.Kind}: {error.Reason}");
            }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases.Count} differ:\n" + string.Join("\n", failures.Take(60)));
    }

    [Fact]
    public void Rejects_what_jinja2_rejects_and_what_is_outside_the_subset()
    {
        var cases = ChatTemplateFixtures.Expected["syntax_errors"]!.AsArray().Select(c => c!.AsObject()).ToList();
        Assert.NotEmpty(cases);
        var failures = new List<string>();
        foreach (var expected in cases)
        {
            string source = (string)expected["template"]!;
            try
            {
                string output = JinjaTemplate.Parse(source, "bad.jinja").Render(Variables(), ChatTemplateFixtures.Now);
                failures.Add($"{source}: rendered {Show(output)} instead of failing");
            }
            catch (TemplateException e)
            {
                if (!e.Message.StartsWith("template 'bad.jinja' line ", StringComparison.Ordinal))
                    failures.Add($"{source}: message does not locate the error: {e.Message}");
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    static string Show(string s) => System.Text.Json.JsonSerializer.Serialize(s);
}
