using System.Text.Json.Nodes;
using ExpertFlow.Engine;
using ExpertFlow.Model;
using ExpertFlow.Tests.Model;

namespace ExpertFlow.Tests.Engine;

/// <summary>
/// Folders shaped like real Hugging Face downloads (sharded weights with an index, tokenizer.json of the family's kind,
/// tokenizer_config.json with the public chat template, generation_config.json): the prompt is encoded the model's way
/// (BOS where the tokenizer adds one), a conversation renders through the template, generation stops at the
/// generation config's end-of-sequence ids, and printed text holds no special tokens.
/// </summary>
public class RealCheckpointTests
{
    public static TheoryData<string, string, string> Families() => new()
    {
        { "qwen3_moe", "qwen3-bpe", "Qwen-Qwen3-0.6B" },
        { "mixtral", "mixtral-spm-bpe", "mistralai-Mixtral-8x7B-Instruct-v0.1" },
        { "deepseek", "deepseek-v3-bpe", "deepseek-ai-DeepSeek-V3" },
    };

    [Theory]
    [MemberData(nameof(Families))]
    public void Chat_and_prompts_work_with_the_folders_own_files(string family, string tokenizerKind, string template)
    {
        Fixtures.Cpu();
        using var folder = new DownloadShapedModel(family, tokenizerKind, template, """{"do_sample": false, "eos_token_id": [{eos}], "repetition_penalty": 1.1}""");
        var tokenizer = ModelTokenizer.Load(folder.Folder);
        var formatter = ChatFormatter.TryLoad(folder.Folder, tokenizer) ?? throw new InvalidOperationException("the folder has a chat template");
        var messages = new JsonArray { new JsonObject { ["role"] = "user", ["content"] = "Name a large animal." } };
        string rendered = formatter.Render(messages);
        Assert.Contains("Name a large animal.", rendered);
        int[] chat = formatter.Encode(messages);
        // the template writes the BOS itself where the model uses one; encoding adds none on top
        if (tokenizer.BosToken is { } bos && rendered.StartsWith(bos, StringComparison.Ordinal))
            Assert.NotEqual(chat[0], chat[1]);

        int[] prompt = tokenizer.Encode("The horse is a large animal");
        if (tokenizer.BosToken != null && tokenizer.Config?.AddBosToken == true) Assert.Equal(tokenizer.Encode(tokenizer.BosToken, addSpecialTokens: false)[0], prompt[0]);
        using var engine = InferenceEngine.Load(new EngineOptions { ModelFolder = folder.Folder }, Workload.For(1, chat.Length, 24), tokenizer);
        Assert.NotNull(engine.GenerationConfig);
        Assert.Equal(engine.GenerationConfig!.EosTokenIds, engine.StopTokenIds);
        var sampling = GenerationConfig.Resolve(engine.GenerationConfig, new SamplingRequest());
        Assert.True(sampling.Greedy);
        Assert.Equal(1.1, sampling.RepetitionPenalty);
        var result = engine.Generate([chat], new GenerationOptions { MaxNewTokens = 24, Sampling = sampling, StopTokens = engine.StopTokenIds.ToArray() }, TestContext.Current.CancellationToken);
        var output = result.OutputIds[0];
        Assert.InRange(output.Length, 1, 24);
        if (output.Length < 24) Assert.Contains(output[^1], engine.StopTokenIds);
        string text = tokenizer.Decode(output, skipSpecialTokens: true);
        Assert.All(output.Where(tokenizer.IsSpecial), id => Assert.DoesNotContain(tokenizer.Decode([id]), text));
        // streaming gives the same text as decoding the whole reply
        var stream = tokenizer.CreateStream(skipSpecialTokens: true);
        Assert.Equal(text, string.Concat(output.Select(stream.Append)));
    }

    [Fact]
    public void Generation_config_defaults_yield_to_explicit_options()
    {
        var config = GenerationConfig.Parse("""{"do_sample": true, "temperature": 0.6, "top_p": 0.95, "eos_token_id": [1, 2], "stop_strings": "###"}""", "generation_config.json");
        var sampled = GenerationConfig.Resolve(config, new SamplingRequest());
        Assert.False(sampled.Greedy);
        Assert.Equal((0.6, 0.95, GenerationConfig.DefaultTopK), (sampled.Temperature, sampled.TopP, sampled.TopK));
        Assert.True(GenerationConfig.Resolve(config, new SamplingRequest(Greedy: true)).Greedy);
        Assert.Equal(1.2, GenerationConfig.Resolve(config, new SamplingRequest(Temperature: 1.2)).Temperature);
        Assert.Equal(["###"], config.StopStrings);
        Assert.True(GenerationConfig.Resolve(null, new SamplingRequest()).Greedy);
        foreach (var bad in new[] { "[]", "{\"eos_token_id\": \"x\"}", "{\"top_p\": 2}", "not json", "{\"do_sample\": 1}" })
            Assert.Contains("generation_config.json", Assert.Throws<InvalidDataException>(() => GenerationConfig.Parse(bad, "generation_config.json")).Message);
    }
}
