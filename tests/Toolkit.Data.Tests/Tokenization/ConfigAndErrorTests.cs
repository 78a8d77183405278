using Toolkit.Data.Text.Tokenization;
using Xunit;

namespace Toolkit.Data.Tests.Tokenization;

public class ConfigAndErrorTests
{
    [Fact]
    public void Config_reads_tokens_as_strings_or_objects_and_templates_as_string_list_or_jinja_file()
    {
        var config = TokenizerConfig.Parse("""{"bos_token":{"content":"<s>","special":true},"eos_token":"</s>","chat_template":"T","add_bos_token":true,"model_max_length":1e30}""");
        Assert.Equal("<s>", config.BosToken);
        Assert.Equal("</s>", config.EosToken);
        Assert.True(config.AddBosToken);
        Assert.Null(config.AddEosToken);
        Assert.Null(config.ModelMaxLength);
        Assert.Equal("T", config.ChatTemplate);
        var named = TokenizerConfig.Parse("""{"chat_template":[{"name":"default","template":"A"},{"name":"tool_use","template":"B"}]}""");
        Assert.Equal("B", named.ChatTemplates["tool_use"]);
        string dir = Directory.CreateTempSubdirectory().FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), """{"chat_template":"old"}""");
            File.WriteAllText(Path.Combine(dir, "chat_template.jinja"), "new");
            Assert.Equal("new", TokenizerConfig.Load(Path.Combine(dir, "tokenizer_config.json")).ChatTemplate);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Theory]
    [InlineData("""{"model":{"type":"Fancy"}}""", "tokenizer.json: model has the unsupported model type \"Fancy\"")]
    [InlineData("""{"model":{"type":"BPE","vocab":{"a":0},"merges":["a"]}}""", "tokenizer.json: model.merges[0] is not a pair \"a b\"")]
    [InlineData("""{"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"decoder":{"type":"Magic"}}""", "tokenizer.json: decoder has the unsupported decoder type \"Magic\"")]
    [InlineData("""{"model":{"type":"Unigram","unk_id":5,"vocab":[["a",0.0]]}}""", "tokenizer.json: model.unk_id is 5, outside the vocab of 1 pieces")]
    [InlineData("""{"model":{"type":"BPE","vocab":{"a":-1},"merges":[]}}""", "tokenizer.json: model.vocab.a must be a non-negative integer, not -1")]
    [InlineData("""{"model":""", "tokenizer.json: not valid JSON")]
    public void Format_errors_name_the_file_and_the_place(string json, string expected)
    {
        var e = Assert.Throws<TokenizerFormatException>(() => HfTokenizer.FromJson(json));
        Assert.StartsWith(expected, e.Message);
    }

    [Fact]
    public void Streaming_holds_back_incomplete_characters()
    {
        var tokenizer = ParityTests.FromTiktoken("cl100k_base", Path.Combine(MalformedFileTests.FixtureRoot(), "cl100k_base"));
        const string text = "naïve 😀 emoji, 𪚥𠀀 and 中文";
        var ids = tokenizer.Encode(text);
        var stream = tokenizer.CreateStreamingDecoder();
        var pieces = ids.Select(stream.Append).ToList();
        Assert.Equal(text, string.Concat(pieces));
        Assert.DoesNotContain(pieces, p => p.Contains('\uFFFD'));
        Assert.Contains("", pieces); // an astral character whose bytes span several tokens
    }
}
