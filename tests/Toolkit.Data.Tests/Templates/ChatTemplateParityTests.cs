using System.Text;
using System.Text.Json.Nodes;
using Toolkit.Data.Text.Templates;

namespace Toolkit.Data.Tests.Templates;

/// <summary>
/// Byte-for-byte parity with transformers' apply_chat_template (jinja2) on the public chat templates of Mixtral,
/// Qwen2.5, Qwen3, DeepSeek-V3, OLMoE, gpt-oss and Llama-3.1: every conversation of conversations.json, both
/// add_generation_prompt values, every template variant; where jinja2 raised, the same message.
/// </summary>
public class ChatTemplateParityTests
{
    public static TheoryData<string> Templates => new(ChatTemplateFixtures.TemplateFiles);

    [Fact]
    public void Expected_renders_come_from_transformers()
    {
        var versions = ChatTemplateFixtures.Expected["versions"]!.AsObject();
        Assert.True(versions.ContainsKey("transformers"), "expected.json must be written by transformers (run make_chat_template_fixtures.py on the GPU machine)");
        Assert.DoesNotContain("replica", (string)versions["engine"]!);
    }

    [Theory]
    [MemberData(nameof(Templates))]
    public void Renders_like_transformers(string templateFile)
    {
        var settings = ChatTemplateFixtures.Spec["templates"]![templateFile]!.AsObject();
        var template = ChatTemplate.Parse(ChatTemplateFixtures.TemplateSource(templateFile), templateFile);
        var cases = ChatTemplateFixtures.Expected["cases"]!.AsArray().Select(c => c!.AsObject())
            .Where(c => (string)c["template"]! == templateFile).ToList();
        var failures = new List<string>();
        var conversations = new HashSet<string>();
        int rendered = 0, raised = 0;
        foreach (var expected in cases)
        {
            string id = (string)expected["conversation"]!;
            conversations.Add(id);
            var conversation = ChatTemplateFixtures.Conversation(id);
            var variant = settings["variants"]!.AsArray()[(int)expected["variant"]!]!.AsObject();
            var options = new ChatTemplateOptions
            {
                AddGenerationPrompt = (bool)expected["add_generation_prompt"]!,
                Tools = conversation["tools"]?.DeepClone().AsArray(),
                BosToken = (string?)settings["bos_token"],
                EosToken = (string?)settings["eos_token"],
                Extra = variant.ToDictionary(p => p.Key, p => p.Value?.DeepClone()),
                Now = ChatTemplateFixtures.Now,
            };
            string label = $"{id} (variant {expected["variant"]}, add_generation_prompt={options.AddGenerationPrompt})";
            var messages = conversation["messages"]!.DeepClone().AsArray();
            string? actual = null;
            TemplateException? error = null;
            try
            {
                actual = template.Apply(messages, options);
            }
            catch (TemplateException e)
            {
                error = e;
            }
            if (expected["output"] is JsonNode output)
            {
                rendered++;
                string want = (string)output!;
                if (error is not null)
                    failures.Add($"{label}: expected a render, got {error.Kind}: {error.Message}");
                else if (actual != want)
                    failures.Add($"{label}: {Diff(want, actual!)}");
            }
            else
            {
                raised++;
                string wantMessage = (string)expected["error"]!;
                if (error is null)
                    failures.Add($"{label}: expected {expected["error_type"]} '{wantMessage}', got a render");
                else if (error.Reason != wantMessage)
                    failures.Add($"{label}: expected {expected["error_type"]} '{wantMessage}', got {error.Kind} '{error.Reason}'");
            }
        }
        Assert.True(conversations.Count >= 30, $"only {conversations.Count} conversations for {templateFile}");
        Assert.True(rendered >= 40, $"only {rendered} successful renders for {templateFile}");
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases.Count} cases differ ({rendered} renders, {raised} exceptions expected):\n" + string.Join("\n", failures.Take(8)));
    }

    static string Diff(string want, string got)
    {
        int i = 0;
        while (i < want.Length && i < got.Length && want[i] == got[i])
            i++;
        static string Show(string s, int at) => Escape(s.Substring(Math.Max(0, at - 40), Math.Min(s.Length, at + 40) - Math.Max(0, at - 40)));
        return $"first difference at {i} (lengths {want.Length} vs {got.Length}):\n  want …{Show(want, i)}…\n  got  …{Show(got, i)}…";
    }

    static string Escape(string s)
    {
        var sb = new StringBuilder();
        foreach (char c in s)
            sb.Append(c switch { '\n' => "\\n", '\r' => "\\r", '\t' => "\\t", _ => c.ToString() });
        return sb.ToString();
    }
}
