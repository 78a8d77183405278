using ExpertFlow.Tests.Engine;

namespace ExpertFlow.Cli.Tests;

/// <summary>
/// The tool on folders laid out like Hugging Face downloads (sharded weights with an index, tokenizer.json,
/// tokenizer_config.json with the family's public chat template, generation_config.json), with no extra flags:
/// <c>chat</c> through piped input (several turns, /stats, /reset, /exit) and <c>generate --prompt</c> print clean text.
/// </summary>
public class DownloadedModelTests
{
    public static TheoryData<string, string, string> Families() => new()
    {
        { "qwen3_moe", "qwen3-bpe", "Qwen-Qwen3-0.6B" },
        { "mixtral", "mixtral-spm-bpe", "mistralai-Mixtral-8x7B-Instruct-v0.1" },
        { "deepseek", "deepseek-v3-bpe", "deepseek-ai-DeepSeek-V3" },
    };

    /// <summary>Special-token spellings of the three tokenizers; printed text must hold none of them.</summary>
    static readonly string[] SpecialSpellings = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<s>", "</s>", "[INST]", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"];

    [Theory]
    [MemberData(nameof(Families))]
    public void Chat_runs_turns_and_commands_from_piped_input(string family, string tokenizerKind, string template)
    {
        using var folder = new DownloadShapedModel(family, tokenizerKind, template, """{"do_sample": false, "eos_token_id": [{eos}]}""");
        var run = Tool.RunWithInput("Hello there\n/stats\nTell me more\n/reset\n\nAgain\n/exit\nnever read\n",
            "chat", "--model", folder.Folder, "--max-new-tokens", "6", "--device", "cpu");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("all experts are resident", run.Stderr);
        Assert.Contains("conversation reset", run.Stderr);
        Assert.DoesNotContain("never read", run.Stdout);
        Assert.All(SpecialSpellings, s => Assert.DoesNotContain(s, run.Stdout));
        Assert.DoesNotContain("Exception", run.Stderr);
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Generate_with_a_prompt_prints_clean_text_and_json(string family, string tokenizerKind, string template)
    {
        using var folder = new DownloadShapedModel(family, tokenizerKind, template, """{"do_sample": false, "eos_token_id": [{eos}], "repetition_penalty": 1.1}""");
        var text = Tool.Run("generate", "--model", folder.Folder, "--prompt", "The experts", "--max-new-tokens", "8", "--device", "cpu");
        Assert.True(text.ExitCode == 0, text.ToString());
        Assert.StartsWith("The experts", text.Stdout);
        Assert.All(SpecialSpellings, s => Assert.DoesNotContain(s, text.Stdout));

        // greedy (the file's do_sample false): the same prompt gives the same text through the JSON output
        var json = Tool.Run("generate", "--model", folder.Folder, "--prompt", "The experts", "--max-new-tokens", "8", "--device", "cpu", "--json");
        Assert.True(json.ExitCode == 0, json.ToString());
        using var doc = System.Text.Json.JsonDocument.Parse(json.Stdout);
        string continuation = doc.RootElement.GetProperty("text")[0].GetString()!;
        Assert.Equal("The experts" + continuation, text.Stdout.TrimEnd('\n'));
    }
}
