using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using CsCheck;
using Toolkit.Data.Text.Templates;

namespace Toolkit.Data.Tests.Templates;

/// <summary>
/// Bad input never crashes: mutated templates, conversations and tokenizer configs give either a clean
/// <see cref="TemplateException"/> (or the loader's InvalidDataException) or a valid render, never another
/// exception type, a stack overflow or a hang (the limits bound steps, output and nesting).
/// </summary>
public class TemplateRobustnessTests
{
    /// <summary>Tighter than the defaults so runaway mutants stop quickly; documented in docs/chat-templates.md.</summary>
    static readonly TemplateLimits Limits = new() { MaxSteps = 200_000, MaxOutputLength = 1_000_000, MaxRange = 10_000 };

    static readonly string[] Sources = BuildSources();

    static readonly string[] Snippets =
    [
        "{%", "%}", "{{", "}}", "{#", "#}", "-", "+", "(", ")", "[", "]", "{", "}", "'", "\"", "\\", "|", ".", ",", ":", "~", "**", "*", "/", "%", "=", "==",
        " if ", " else ", " elif ", "{% endif %}", "{% endfor %}", "{% for x in messages %}", "{% for i in range(9999) %}", "{% set ns.x = 1 %}",
        "{% macro m(a) %}{{ m(a) }}{% endmacro %}{{ m(1) }}", "{% break %}", "{% continue %}", "{% raw %}", "{% endraw %}", "loop.index",
        "| tojson", "|join(', ')", "| length", "|trim", ".split('x')", "[::-1]", "[1:]", " is defined", " is not none", " in ", " not ",
        "raise_exception('boom')", "namespace(a=1)", "'x' * 99999999", "range(99999999)", "messages[0]", "message.content", "tools", "none", "true",
        "1e308 * 10", "10 ** 10000", "{% call m() %}", "{% include 'x' %}", "\u00e9", "\U0001F600", "\n", "  ", "\t",
    ];

    static string[] BuildSources()
    {
        var sources = ChatTemplateFixtures.TemplateFiles.Select(ChatTemplateFixtures.TemplateSource).ToList();
        var features = JsonNode.Parse(File.ReadAllText(Path.Combine(ChatTemplateFixtures.Directory, "features.json")))!;
        sources.AddRange(features["templates"]!.AsArray().Select(t => (string)t!).Where((_, i) => i % 10 == 0));
        return [.. sources];
    }

    static string Mutate(string source, Random random)
    {
        var sb = new StringBuilder(source);
        int operations = random.Next(1, 5);
        for (int k = 0; k < operations; k++)
        {
            int at = sb.Length == 0 ? 0 : random.Next(sb.Length);
            int length = Math.Min(sb.Length - at, random.Next(1, 24));
            switch (random.Next(6))
            {
                case 0 when length > 0:
                    sb.Remove(at, length);
                    break;
                case 1:
                    sb.Insert(at, Snippets[random.Next(Snippets.Length)]);
                    break;
                case 2 when length > 0:
                    sb.Insert(at, sb.ToString(at, length));
                    break;
                case 3 when sb.Length > 0:
                    sb[at] = (char)random.Next(32, 127);
                    break;
                case 4 when sb.Length > 0:
                    sb.Length = at;
                    break;
                default:
                    sb.Insert(at, Snippets[random.Next(Snippets.Length)] + Snippets[random.Next(Snippets.Length)]);
                    break;
            }
        }
        return sb.ToString();
    }

    static (JsonArray Messages, ChatTemplateOptions Options) RandomConversation(Random random)
    {
        var conversations = ChatTemplateFixtures.Spec["conversations"]!.AsArray();
        var conversation = conversations[random.Next(conversations.Count)]!;
        var options = new ChatTemplateOptions
        {
            AddGenerationPrompt = random.Next(2) == 0,
            Tools = conversation["tools"]?.DeepClone().AsArray(),
            BosToken = "<s>",
            EosToken = "</s>",
            Extra = random.Next(3) == 0 ? new Dictionary<string, JsonNode?> { ["enable_thinking"] = false, ["reasoning_effort"] = "low" } : new Dictionary<string, JsonNode?>(),
            Now = ChatTemplateFixtures.Now,
        };
        return (conversation["messages"]!.DeepClone().AsArray(), options);
    }

    /// <summary>Runs <paramref name="action"/> and fails if it takes more than 20 s (a hang), without waiting for it forever.</summary>
    static void WithinTime(Action action, Func<string> describe)
    {
        var task = Task.Run(action);
        if (!task.Wait(TimeSpan.FromSeconds(20)))
            Assert.Fail("no answer within 20 s (a hang?): " + describe());
        task.GetAwaiter().GetResult();
    }

    [Fact]
    public void Mutated_templates_fail_cleanly_or_render()
    {
        int parsed = 0, rendered = 0, samples = 0;
        Gen.Select(Gen.Int[0, Sources.Length - 1], Gen.Int).Sample((index, seed) =>
        {
            var random = new Random(seed);
            string mutant = Mutate(Sources[index], random);
            var (messages, options) = RandomConversation(random);
            Interlocked.Increment(ref samples);
            WithinTime(() =>
            {
                ChatTemplate template;
                try
                {
                    template = ChatTemplate.Parse(mutant, "mutant.jinja", Limits);
                }
                catch (TemplateException e)
                {
                    Assert.StartsWith("template 'mutant.jinja'", e.Message);
                    return;
                }
                Interlocked.Increment(ref parsed);
                try
                {
                    string output = template.Apply(messages, options);
                    Assert.True(output.Length <= Limits.MaxOutputLength);
                    Interlocked.Increment(ref rendered);
                }
                catch (TemplateException)
                {
                }
            }, () => mutant);
        }, iter: 1500, threads: 1);
        Assert.Equal(1500, samples);
        Assert.True(parsed > 100 && rendered > 50, $"mutants too broken to exercise rendering: {parsed} parsed, {rendered} rendered");
    }

    static readonly string[] Keys = ["role", "content", "tool_calls", "function", "arguments", "name", "reasoning_content", "thinking", "type", "tool_call_id", "text", "x"];

    static readonly string[] Strings = ["user", "assistant", "system", "tool", "developer", "", " ", "<think>", "</think>", "a\nb", "{{ x }}", "\u00e9\U0001F600", "\0", "<tool_response>", "function"];

    static JsonNode? RandomJson(Random random, int depth)
    {
        switch (random.Next(depth > 3 ? 6 : 9))
        {
            case 0: return null;
            case 1: return random.Next(2) == 0;
            case 2: return random.Next(-5, 1000);
            case 3: return random.NextDouble() * 1e6 - 5e5;
            case 4 or 5: return Strings[random.Next(Strings.Length)];
            case 6:
                {
                    var array = new JsonArray();
                    for (int i = random.Next(4); i > 0; i--)
                        array.Add(RandomJson(random, depth + 1));
                    return array;
                }
            default:
                {
                    var obj = new JsonObject();
                    for (int i = random.Next(5); i > 0; i--)
                        obj[Keys[random.Next(Keys.Length)]] = RandomJson(random, depth + 1);
                    return obj;
                }
        }
    }

    [Fact]
    public void Mutated_conversations_fail_cleanly_or_render()
    {
        var templates = ChatTemplateFixtures.TemplateFiles
            .Select(f => ChatTemplate.Parse(ChatTemplateFixtures.TemplateSource(f), f, Limits)).ToList();
        int rendered = 0, samples = 0;
        Gen.Int.Sample(seed =>
        {
            var random = new Random(seed);
            var messages = new JsonArray();
            for (int i = random.Next(6); i > 0; i--)
            {
                var message = random.Next(5) == 0 ? RandomJson(random, 0) : new JsonObject
                {
                    ["role"] = Strings[random.Next(5)],
                    ["content"] = RandomJson(random, 2),
                };
                if (message is JsonObject obj && random.Next(3) == 0)
                    obj[Keys[random.Next(Keys.Length)]] = RandomJson(random, 1);
                messages.Add(message);
            }
            var options = new ChatTemplateOptions
            {
                AddGenerationPrompt = random.Next(2) == 0,
                Tools = random.Next(3) == 0 ? new JsonArray(RandomJson(random, 1), RandomJson(random, 1)) : null,
                Extra = new Dictionary<string, JsonNode?> { ["enable_thinking"] = RandomJson(random, 3), ["builtin_tools"] = RandomJson(random, 2) },
                Now = ChatTemplateFixtures.Now,
            };
            Interlocked.Increment(ref samples);
            foreach (var template in templates)
                WithinTime(() =>
                {
                    try
                    {
                        template.Apply((JsonArray)messages.DeepClone(), options);
                        Interlocked.Increment(ref rendered);
                    }
                    catch (TemplateException)
                    {
                    }
                }, () => messages.ToJsonString());
        }, iter: 1200, threads: 1);
        Assert.Equal(1200, samples);
        Assert.True(rendered > 100, $"only {rendered} renders: the generator should also produce conversations templates accept");
    }

    [Fact]
    public void Mutated_tokenizer_configs_fail_cleanly_or_load()
    {
        string original = new JsonObject
        {
            ["bos_token"] = "<s>",
            ["chat_template"] = new JsonArray(
                new JsonObject { ["name"] = "default", ["template"] = ChatTemplateFixtures.TemplateSource("Qwen-Qwen3-0.6B.jinja") },
                new JsonObject { ["name"] = "tool_use", ["template"] = ChatTemplateFixtures.TemplateSource("meta-llama-Llama-3.1-8B-Instruct.jinja") }),
        }.ToJsonString();
        string directory = Path.Combine(Path.GetTempPath(), "chat-template-fuzz-" + Environment.ProcessId);
        Directory.CreateDirectory(directory);
        int loaded = 0;
        try
        {
            Gen.Int.Sample(seed =>
            {
                var random = new Random(seed);
                var bytes = Encoding.UTF8.GetBytes(original);
                for (int k = random.Next(1, 4); k > 0; k--)
                {
                    int at = random.Next(bytes.Length);
                    if (random.Next(3) == 0)
                        bytes = bytes[..at];
                    else if (bytes.Length > 0)
                        bytes[Math.Min(at, bytes.Length - 1)] = (byte)random.Next(256);
                }
                File.WriteAllBytes(Path.Combine(directory, "tokenizer_config.json"), bytes);
                try
                {
                    var collection = ChatTemplateCollection.FromDirectory(directory);
                    if (!collection.IsEmpty)
                        collection.Select(hasTools: random.Next(2) == 0).Apply(new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "hi" }), new ChatTemplateOptions());
                    Interlocked.Increment(ref loaded);
                }
                catch (InvalidDataException)
                {
                }
                catch (TemplateException)
                {
                }
            }, iter: 1000, threads: 1);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
        Assert.True(loaded > 10, $"only {loaded} configs loaded");
    }

    [Fact]
    public void Deep_nesting_is_an_error_not_a_stack_overflow()
    {
        foreach (string source in new[]
        {
            "{{ " + new string('(', 50_000) + "1" + new string(')', 50_000) + " }}",
            "{{ " + string.Concat(Enumerable.Repeat("not ", 50_000)) + "1 }}",
            "{{ " + string.Concat(Enumerable.Repeat("-", 50_000)) + "1 }}",
            string.Concat(Enumerable.Repeat("{% if true %}", 20_000)) + string.Concat(Enumerable.Repeat("{% endif %}", 20_000)),
            "{{ " + string.Concat(Enumerable.Repeat("[", 50_000)) + string.Concat(Enumerable.Repeat("]", 50_000)) + " }}",
        })
        {
            var e = Assert.Throws<TemplateException>(() => JinjaTemplate.Parse(source, "deep.jinja"));
            Assert.Contains("nested too deeply", e.Message);
        }
    }

    [Fact]
    public void Runaway_templates_hit_the_limits()
    {
        var stopwatch = Stopwatch.StartNew();
        var empty = new Dictionary<string, object?>();
        var steps = Assert.Throws<TemplateException>(() =>
            JinjaTemplate.Parse("{% for i in range(9000) %}{% for j in range(9000) %}{% endfor %}{% endfor %}", "loop", Limits).Render(empty));
        Assert.Contains("steps", steps.Reason);
        var output = Assert.Throws<TemplateException>(() =>
            JinjaTemplate.Parse("{% for i in range(10000) %}{{ 'x' * 1000 }}{% endfor %}", "output", Limits).Render(empty));
        Assert.Contains("output longer than", output.Reason);
        var value = Assert.Throws<TemplateException>(() => JinjaTemplate.Parse("{{ 'x' * 10**12 }}", "value", Limits).Render(empty));
        Assert.Contains("too large", value.Reason);
        var doubling = Assert.Throws<TemplateException>(() =>
            JinjaTemplate.Parse("{% set ns = namespace(s='ab') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", "doubling", Limits).Render(empty));
        Assert.Contains("too large", doubling.Reason);
        var power = Assert.Throws<TemplateException>(() => JinjaTemplate.Parse("{{ 7 ** 9999999 }}", "power", Limits).Render(empty));
        Assert.Equal("OverflowError", power.Kind);
        var recursion = Assert.Throws<TemplateException>(() =>
            JinjaTemplate.Parse("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "recursion", Limits).Render(empty));
        Assert.Equal("maximum recursion depth exceeded", recursion.Reason);
        foreach (string source in new[]
        {
            "{% set ns = namespace(x=[1]) %}{% for i in range(80) %}{% set ns.x = [ns.x, ns.x] %}{% endfor %}{{ ns.x }}",
            "{% set ns = namespace(x=[1], y=[1]) %}{% for i in range(80) %}{% set ns.x = [ns.x, ns.x] %}{% set ns.y = [ns.y, ns.y] %}{% endfor %}{{ ns.x == ns.y }}",
            "{% set ns = namespace(t=(1,)) %}{% for i in range(80) %}{% set ns.t = (ns.t, ns.t) %}{% endfor %}{{ {ns.t: 1} }}",
            "{{ ('x' * 500000).replace('x', 'y' * 1000) }}",
            "{{ ('x\n' * 400000)|indent(1000) }}",
            "{{ '%999999999d' % 1 }}",
            "{{ '{:>999999999}'.format(1) }}",
            "{{ ('\t' * 100000).expandtabs(1000000) }}",
        })
        {
            var e = Assert.Throws<TemplateException>(() => JinjaTemplate.Parse(source, "blowup", Limits).Render(empty));
            Assert.True(e.Kind is "MemoryError" or "LimitError", $"{source}: {e.Kind} {e.Reason}");
        }
        var range = Assert.Throws<TemplateException>(() => JinjaTemplate.Parse("{{ range(10**9)|length }}", "range").Render(empty));
        Assert.StartsWith("Range too big", range.Reason);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(30), $"limits took {stopwatch.Elapsed} to trip");
    }
}
