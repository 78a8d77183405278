using CsCheck;
using ExpertFlow.Model;
using Fuzzing;

namespace ExpertFlow.Tests.Model;

/// <summary>
/// generation_config.json damaged 1,000 ways: <see cref="GenerationConfig.Load"/> returns defaults a sampler can use, or
/// throws InvalidDataException naming the file; never another exception.
/// </summary>
public class GenerationConfigFuzzTests(ITestOutputHelper output)
{
    /// <summary>A generation_config.json as Qwen3-MoE ships it, plus the fields other families use.</summary>
    const string Original = """
        {
          "bos_token_id": 151643,
          "do_sample": true,
          "eos_token_id": [151645, 151643],
          "pad_token_id": 151643,
          "temperature": 0.6,
          "top_k": 20,
          "top_p": 0.95,
          "repetition_penalty": 1.05,
          "max_new_tokens": 2048,
          "stop_strings": ["<|im_end|>", "\n\nUser:"],
          "transformers_version": "4.51.0"
        }
        """;

    static readonly string[] Keys =
        ["bos_token_id", "do_sample", "eos_token_id", "pad_token_id", "temperature", "top_k", "top_p", "repetition_penalty", "max_new_tokens", "stop_strings"];

    [Fact]
    public void Damaged_generation_config_loads_or_names_the_file()
    {
        using var temp = new TempFolder("generation-config-fuzz-");
        string path = Path.Combine(temp.Path, GenerationConfig.FileName);
        var property = new LoaderProperty(GenerationConfig.FileName, typeof(InvalidDataException));
        JsonMutations.Of(Original, Keys).Sample(mutant =>
        {
            File.WriteAllBytes(path, mutant.Bytes);
            property.Check(mutant, () => CheckUsable(GenerationConfig.Load(temp.Path)!));
        }, iter: 1000, threads: 1, print: m => m.Description);
        output.WriteLine(property.ToString());
        Assert.True(property.Accepted > 0 && property.Rejected > 0, property.ToString());
    }

    /// <summary>What an accepted file must give the sampler: values in the ranges sampling accepts.</summary>
    static void CheckUsable(GenerationConfig c)
    {
        Assert.All(c.EosTokenIds, id => Assert.True(id >= 0));
        if (c.DoSample && c.Temperature is { } t) Assert.True(t > 0 && double.IsFinite(t));
        if (c.TopP is { } p) Assert.InRange(p, double.Epsilon, 1);
        if (c.TopK is { } k) Assert.True(k >= 0);
        if (c.RepetitionPenalty is { } r) Assert.True(r > 0);
        if (c.MaxNewTokens is { } m) Assert.True(m >= 1);
        Assert.NotNull(c.StopStrings);
    }
}
