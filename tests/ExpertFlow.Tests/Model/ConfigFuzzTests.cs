using System.Text.Json.Nodes;
using CsCheck;
using ExpertFlow.Model;
using ExpertFlow.Prediction;
using Fuzzing;

namespace ExpertFlow.Tests.Model;

/// <summary>
/// config.json of every fixture family, damaged 1,000 ways each: <see cref="MoeConfig.Load"/> returns a configuration
/// that describes a buildable model, or throws InvalidDataException naming the file; never another exception.
/// </summary>
public class ConfigFuzzTests(ITestOutputHelper output)
{
    /// <summary>Keys the reader looks for that the fixtures lack (so that adding them is a mutation that matters).</summary>
    static readonly string[] ReaderKeys =
    [
        "model_type", "num_local_experts", "num_experts", "head_dim", "rope_theta", "rope_scaling", "rope_parameters", "clip_qkv",
        "n_routed_experts", "n_shared_experts", "first_k_dense_replace", "moe_layer_freq", "scoring_func", "mlp_only_layers",
        "decoder_sparse_step", "encoder_sparse_step", "num_decoder_layers", "router_dtype", "router_bias", "expert_capacity",
        "decoder_start_token_id", "eos_token_id", "bos_token_id", "pad_token_id", "hidden_act", "dense_act_fn", "qkv_bias",
        "attention_bias", "tie_word_embeddings", "shared_expert_intermediate_size", "moe_intermediate_size", "max_position_embeddings",
        "layer_types", "sliding_window", "swiglu_limit", "swiglu_alpha", "quantization_config",
    ];

    public static TheoryData<string> Families => new(Fixtures.Families);

    [Theory]
    [MemberData(nameof(Families))]
    public void Damaged_config_loads_or_names_the_file(string family)
    {
        string text = File.ReadAllText(Path.Combine(Fixtures.Folder(family), "config.json"));
        string[] keys = [.. ReaderKeys, .. Fixtures.Families.SelectMany(f => JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.Folder(f), "config.json")))!.AsObject().Select(p => p.Key))];
        using var temp = new TempFolder("config-fuzz-");
        string path = temp.File("config.json");
        var property = new LoaderProperty("config.json", typeof(InvalidDataException));
        JsonMutations.Of(text, keys.Distinct().ToArray()).Sample(mutant =>
        {
            File.WriteAllBytes(path, mutant.Bytes);
            property.Check(mutant, () => CheckValid(MoeConfig.Load(temp.Path)));
        }, iter: 1000, threads: 1, print: m => m.Description);
        output.WriteLine($"{family}: {property}");
        Assert.True(property.Accepted > 0 && property.Rejected > 0, property.ToString());
    }

    /// <summary>What an accepted configuration must satisfy for the model builders (sizes positive and bounded, arrays consistent).</summary>
    static void CheckValid(MoeConfig c)
    {
        Assert.True(c.VocabSize > 0 && c.HiddenSize > 0 && c.NumLayers > 0 && c.NumHeads > 0 && c.NumKvHeads > 0 && c.HeadDim > 0);
        Assert.Equal(c.NumLayers, c.MoeLayers.Length);
        Assert.Equal(c.IsEncoderDecoder ? c.NumDecoderLayers : 0, c.DecoderMoeLayers.Length);
        Assert.True(c.NumHeads % c.NumKvHeads == 0);
        if (c.MoeLayerCount > 0) Assert.True(c.TopK >= 1 && c.TopK <= c.NumExperts && c.ExpertIntermediateSize > 0);
        Assert.True(c.IntermediateSize >= 0 && c.SharedExpertIntermediateSize >= 0);
        Assert.True(c.MaxPositionEmbeddings > 0);
        Assert.True(double.IsFinite(c.RopeTheta) && c.RopeTheta > 0 && double.IsFinite(c.NormEps) && c.NormEps >= 0);
        if (c.IsEncoderDecoder) Assert.InRange(c.DecoderStartTokenId, 0, c.VocabSize - 1);
        _ = ModelIdentity.Of(c).ToString();
    }
}
