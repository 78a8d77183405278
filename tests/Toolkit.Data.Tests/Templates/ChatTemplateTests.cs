using System.Text.Json.Nodes;
using Toolkit.Data.Text.Templates;

namespace Toolkit.Data.Tests.Templates;

public class ChatTemplateTests
{
    static JsonArray Messages(params (string Role, string Content)[] turns) =>
        new(turns.Select(t => (JsonNode?)new JsonObject { ["role"] = t.Role, ["content"] = t.Content }).ToArray());

    [Fact]
    public void Unsupported_construct_names_template_line_column_and_construct()
    {
        var e = Assert.Throws<TemplateException>(() => ChatTemplate.Parse("line one\n  {% call m() %}x{% endcall %}", "tokenizer_config.json"));
        Assert.Equal("template 'tokenizer_config.json' line 2, column 6: '{% call %}' is not supported", e.Message);
        Assert.Equal(2, e.Line);
        Assert.Equal(6, e.Column);
        var filter = Assert.Throws<TemplateException>(() => ChatTemplate.Parse("{{ x | urlize }}", "t.jinja"));
        Assert.Equal("filter 'urlize' is not supported", filter.Reason);
        var unknown = Assert.Throws<TemplateException>(() => ChatTemplate.Parse("{% frobnicate %}", "t.jinja"));
        Assert.Equal("Encountered unknown tag 'frobnicate'.", unknown.Reason);
        var recursive = Assert.Throws<TemplateException>(() => ChatTemplate.Parse("{% for x in y recursive %}{% endfor %}", "t.jinja"));
        Assert.Equal("'recursive' for loops is not supported", recursive.Reason);
    }

    [Fact]
    public void Raise_exception_carries_the_templates_message()
    {
        var template = ChatTemplate.Parse(ChatTemplateFixtures.TemplateSource("mistralai-Mixtral-8x7B-Instruct-v0.1.jinja"), "mixtral.jinja");
        var e = Assert.Throws<TemplateException>(() => template.Apply(Messages(("user", "a"), ("user", "b")), new ChatTemplateOptions()));
        Assert.True(e.RaisedByTemplate);
        Assert.Equal("TemplateError", e.Kind);
        Assert.Equal("After the optional system message, conversation roles must alternate user/assistant/user/assistant/...", e.Reason);
        Assert.StartsWith("template 'mixtral.jinja' line 11, column 9: ", e.Message);
        Assert.EndsWith(": " + e.Reason, e.Message);
    }

    [Fact]
    public void Undefined_attribute_of_undefined_fails_like_jinja()
    {
        var template = JinjaTemplate.Parse("{{ message.content.strip() }}", "t");
        var e = Assert.Throws<TemplateException>(() => template.Render(new Dictionary<string, object?>()));
        Assert.Equal("'message' is undefined", e.Reason);
        Assert.Equal("UndefinedError", e.Kind);
        var empty = new Dictionary<string, object?> { ["message"] = new Dictionary<string, object?>() };
        Assert.Equal("{}False", JinjaTemplate.Parse("{{ message }}{{ message.content is defined }}").Render(empty));
        var missing = Assert.Throws<TemplateException>(() => JinjaTemplate.Parse("{{ message.content.strip() }}").Render(empty));
        Assert.Equal("'dict object' has no attribute 'content'", missing.Reason);
    }

    [Fact]
    public void Missing_tokens_are_undefined_and_print_nothing()
    {
        var template = ChatTemplate.Parse(ChatTemplateFixtures.TemplateSource("meta-llama-Llama-3.1-8B-Instruct.jinja"));
        string withBos = template.Apply(Messages(("user", "Hi")), new ChatTemplateOptions { BosToken = "<|begin_of_text|>" });
        string without = template.Apply(Messages(("user", "Hi")), new ChatTemplateOptions());
        Assert.Equal("<|begin_of_text|>" + without, withBos);
    }

    [Fact]
    public void Extra_variables_reach_the_template_but_cannot_replace_the_calls_own()
    {
        var template = ChatTemplate.Parse(ChatTemplateFixtures.TemplateSource("Qwen-Qwen3-0.6B.jinja"));
        var off = new ChatTemplateOptions { AddGenerationPrompt = true, Extra = new Dictionary<string, JsonNode?> { ["enable_thinking"] = false } };
        Assert.EndsWith("<|im_start|>assistant\n<think>\n\n</think>\n\n", template.Apply(Messages(("user", "Hi")), off));
        var clash = new ChatTemplateOptions { Extra = new Dictionary<string, JsonNode?> { ["messages"] = new JsonArray() } };
        Assert.Throws<ArgumentException>(() => template.Apply(Messages(("user", "Hi")), clash));
    }

    [Fact]
    public void Strftime_now_uses_the_given_time_or_the_clock()
    {
        var template = JinjaTemplate.Parse("{{ strftime_now('%d %b %Y') }}");
        Assert.Equal("14 Mar 2025", template.Render(new Dictionary<string, object?>(), ChatTemplateFixtures.Now));
        Assert.EndsWith(DateTime.Now.Year.ToString(System.Globalization.CultureInfo.InvariantCulture), template.Render(new Dictionary<string, object?>()));
    }

    [Fact]
    public void Renders_clr_values()
    {
        var template = JinjaTemplate.Parse("{{ items|join(',') }} {{ cfg.name }} {{ cfg['n'] + 1 }} {{ flag }} {{ none_value }}");
        var variables = new Dictionary<string, object?>
        {
            ["items"] = new List<object?> { 1, "two", 3.5 },
            ["cfg"] = new Dictionary<string, object?> { ["name"] = "x", ["n"] = 41 },
            ["flag"] = true,
            ["none_value"] = null,
        };
        Assert.Equal("1,two,3.5 x 42 True None", template.Render(variables));
    }

    [Fact]
    public void One_parsed_template_renders_concurrently()
    {
        var template = ChatTemplate.Parse(ChatTemplateFixtures.TemplateSource("openai-gpt-oss-120b.jinja"));
        var conversations = ChatTemplateFixtures.Spec["conversations"]!.AsArray().Select(c => c!).ToList();
        string Render(JsonNode conversation) => template.Apply(conversation["messages"]!.DeepClone().AsArray(), new ChatTemplateOptions
        {
            Tools = conversation["tools"]?.DeepClone().AsArray(),
            AddGenerationPrompt = true,
            Now = ChatTemplateFixtures.Now,
        });
        string Safe(JsonNode conversation)
        {
            try
            {
                return Render(conversation);
            }
            catch (TemplateException e)
            {
                return "error: " + e.Reason;
            }
        }
        var sequential = conversations.Select(Safe).ToList();
        var parallel = new string[conversations.Count * 8];
        Parallel.For(0, parallel.Length, i => parallel[i] = Safe(conversations[i % conversations.Count]));
        for (int i = 0; i < parallel.Length; i++)
            Assert.Equal(sequential[i % conversations.Count], parallel[i]);
    }

    [Fact]
    public void Collection_selects_like_transformers()
    {
        var single = ChatTemplateCollection.FromTokenizerConfig(JsonNode.Parse("""{"chat_template": "{{ 'one' }}"}"""));
        Assert.Equal("one", single.Select().Apply([], new ChatTemplateOptions()));
        var named = ChatTemplateCollection.FromTokenizerConfig(JsonNode.Parse(
            """{"chat_template": [{"name": "default", "template": "D"}, {"name": "tool_use", "template": "T"}, {"name": "rag", "template": "R"}]}"""));
        Assert.Equal("D", named.Select().Apply([], new ChatTemplateOptions()));
        Assert.Equal("T", named.Select(hasTools: true).Apply([], new ChatTemplateOptions()));
        Assert.Equal("R", named.Select("rag").Apply([], new ChatTemplateOptions()));
        Assert.Throws<TemplateException>(() => named.Select("missing"));
        var noDefault = ChatTemplateCollection.FromTokenizerConfig(JsonNode.Parse("""{"chat_template": [{"name": "rag", "template": "R"}]}"""));
        Assert.Contains("none named 'default'", Assert.Throws<TemplateException>(() => noDefault.Select()).Reason);
        var none = ChatTemplateCollection.FromTokenizerConfig(JsonNode.Parse("""{"bos_token": "<s>"}"""));
        Assert.True(none.IsEmpty);
        Assert.Throws<TemplateException>(() => none.Select());
        Assert.Throws<InvalidDataException>(() => ChatTemplateCollection.FromTokenizerConfig(JsonNode.Parse("""{"chat_template": 5}""")));
        Assert.Throws<InvalidDataException>(() => ChatTemplateCollection.FromTokenizerConfig(JsonNode.Parse("""{"chat_template": [{"name": 1}]}""")));
        Assert.Throws<InvalidDataException>(() => ChatTemplateCollection.FromTokenizerConfig(JsonNode.Parse("[]")));
    }

    [Fact]
    public void Directory_files_override_the_config()
    {
        string directory = Path.Combine(Path.GetTempPath(), "chat-template-dir-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(directory, "additional_chat_templates"));
        try
        {
            File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), """{"chat_template": "from config"}""");
            Assert.Equal("from config", ChatTemplateCollection.FromDirectory(directory).Select().Apply([], new ChatTemplateOptions()));
            File.WriteAllText(Path.Combine(directory, "chat_template.jinja"), "from jinja file\n");
            File.WriteAllText(Path.Combine(directory, "additional_chat_templates", "tool_use.jinja"), "tools file");
            var collection = ChatTemplateCollection.FromDirectory(directory);
            Assert.Equal("from jinja file", collection.Select().Apply([], new ChatTemplateOptions()));
            Assert.Equal("tools file", collection.Select(hasTools: true).Apply([], new ChatTemplateOptions()));
            File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), "{ not json");
            var e = Assert.Throws<InvalidDataException>(() => ChatTemplateCollection.FromDirectory(directory));
            Assert.Contains("tokenizer_config.json: not valid JSON", e.Message);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
