using System.Text.Json;
using ExpertFlow.Model;
using TorchSharp;

namespace ExpertFlow.Tests.Model;

/// <summary>
/// GraniteMoE, DeepSeek-V2/V3 (latent attention) and scaled RoPE on small random models: a prompt computed at once equals
/// the same tokens fed through the KV cache one by one (the compressed latent cache included), the stacked and the
/// provider expert paths agree, and the RoPE variants match their closed forms. Parity with transformers itself is
/// checked on the generated fixtures (<see cref="ParityTests"/>).
/// </summary>
public class NewFamilyConsistencyTests
{
    const string Common = "\"vocab_size\": 64, \"hidden_size\": 32, \"num_attention_heads\": 4, \"max_position_embeddings\": 64, \"rms_norm_eps\": 1e-6";

    public static TheoryData<string> Configs() => new(ConfigJson);

    static readonly string[] ConfigJson =
    [
        "{\"model_type\": \"granitemoe\", " + Common + ", \"num_key_value_heads\": 2, \"num_hidden_layers\": 2, \"intermediate_size\": 12, \"num_local_experts\": 6, \"num_experts_per_tok\": 2, \"embedding_multiplier\": 3.0, \"attention_multiplier\": 0.2, \"residual_multiplier\": 0.6, \"logits_scaling\": 2.5}",
        "{\"model_type\": \"deepseek_v2\", " + Common + ", \"num_hidden_layers\": 3, \"intermediate_size\": 48, \"moe_intermediate_size\": 12, \"n_routed_experts\": 8, \"n_shared_experts\": 2, \"num_experts_per_tok\": 3, \"n_group\": 4, \"topk_group\": 2, \"topk_method\": \"group_limited_greedy\", \"routed_scaling_factor\": 1.5, \"first_k_dense_replace\": 1, \"q_lora_rank\": null, \"kv_lora_rank\": 16, \"qk_nope_head_dim\": 8, \"qk_rope_head_dim\": 4, \"v_head_dim\": 6}",
        "{\"model_type\": \"deepseek_v3\", " + Common + ", \"num_hidden_layers\": 3, \"intermediate_size\": 48, \"moe_intermediate_size\": 12, \"n_routed_experts\": 8, \"n_shared_experts\": 1, \"num_experts_per_tok\": 3, \"n_group\": 4, \"topk_group\": 2, \"routed_scaling_factor\": 2.5, \"first_k_dense_replace\": 1, \"q_lora_rank\": 12, \"kv_lora_rank\": 16, \"qk_nope_head_dim\": 8, \"qk_rope_head_dim\": 4, \"v_head_dim\": 6, \"rope_interleave\": true, \"rope_parameters\": {\"rope_type\": \"yarn\", \"rope_theta\": 10000.0, \"factor\": 4.0, \"original_max_position_embeddings\": 16, \"mscale\": 1.0, \"mscale_all_dim\": 1.0}}",
        "{\"model_type\": \"qwen3_moe\", " + Common + ", \"num_key_value_heads\": 2, \"head_dim\": 8, \"num_hidden_layers\": 2, \"intermediate_size\": 48, \"moe_intermediate_size\": 16, \"num_experts\": 8, \"num_experts_per_tok\": 2, \"norm_topk_prob\": true, \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 16}}",
        "{\"model_type\": \"qwen3_moe\", " + Common + ", \"num_key_value_heads\": 2, \"head_dim\": 8, \"num_hidden_layers\": 2, \"intermediate_size\": 48, \"moe_intermediate_size\": 16, \"num_experts\": 8, \"num_experts_per_tok\": 2, \"rope_parameters\": {\"rope_type\": \"yarn\", \"rope_theta\": 1000000.0, \"factor\": 4.0, \"original_max_position_embeddings\": 16}}",
    ];

    static MoeConfig Parse(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return MoeConfig.Parse(doc.RootElement);
    }

    static float[] Logits(IMoeModel model, int[] tokens, int split)
    {
        model.ResetCache(1, 32);
        var rows = new List<float>();
        if (split == tokens.Length)
        {
            using var all = model.Step([tokens], allPositions: true);
            return Fixtures.Row(all);
        }
        using (var first = model.Step([tokens[..split]], allPositions: true)) rows.AddRange(Fixtures.Row(first));
        for (int i = split; i < tokens.Length; i++)
            using (var next = model.Step([[tokens[i]]])) rows.AddRange(Fixtures.Row(next));
        return rows.ToArray();
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void Cached_decoding_equals_the_whole_prompt_and_both_expert_paths_agree(string json)
    {
        Fixtures.Cpu();
        var config = Parse(json);
        int[] tokens = [3, 17, 42, 9, 55, 1, 30, 12, 7, 60];
        float[]? reference = null;
        foreach (bool stacked in new[] { true, false })
        {
            using var model = MoeCausalLM.Create(config, new RandomWeights(7), new ModelLoadOptions { Experts = new ResidentExpertProvider(stacked) });
            var whole = Logits(model, tokens, tokens.Length);
            var cached = Logits(model, tokens, 4);
            Assert.True(Fixtures.MaxAbsDiff(whole, cached) <= 1e-5, $"{config.ModelType}: cached decode differs by {Fixtures.MaxAbsDiff(whole, cached):g3}");
            Assert.Contains(whole, v => v != 0);
            if (reference is null) reference = whole;
            else Assert.True(Fixtures.MaxAbsDiff(reference, whole) <= 1e-5, $"{config.ModelType}: stacked and provider paths differ");
        }
    }

    [Fact]
    public void The_latent_cache_holds_the_compressed_width_and_the_footprint_counts_it()
    {
        Fixtures.Cpu();
        var config = Parse(ConfigJson[2]);
        using var model = MoeCausalLM.Create(config, new RandomWeights(1));
        model.ResetCache(2, 24);
        long expected = 3L * 2 * 24 * (16 + 4) * sizeof(float); // layers x rows x positions x (kv_lora_rank + qk_rope_head_dim)
        Assert.Equal(expected, model.CacheBytes);
        Assert.Equal(expected, model.KvCacheBytes(new Workload(2, 8, 24)));
    }

    [Theory]
    [InlineData("{\"rope_type\": \"longrope\", \"factor\": 2.0}", "rope_scaling.rope_type 'longrope'")]
    [InlineData("{\"type\": \"su\", \"factor\": 2.0}", "rope_scaling.type 'su'")]
    [InlineData("{\"rope_type\": \"yarn\"}", "rope_scaling.factor")]
    [InlineData("{\"rope_type\": \"llama3\", \"factor\": 8.0}", "original_max_position_embeddings")]
    [InlineData("{\"rope_type\": \"linear\", \"factor\": 2.0, \"partial_rotary_factor\": 0.5}", "partial_rotary_factor")]
    public void An_unsupported_rope_variant_names_the_field(string scaling, string named)
    {
        using var doc = JsonDocument.Parse("{\"model_type\": \"mixtral\", " + Common + ", \"num_hidden_layers\": 1, \"intermediate_size\": 8, \"num_local_experts\": 2, \"num_experts_per_tok\": 1, \"rope_scaling\": " + scaling + "}");
        var e = Assert.Throws<InvalidDataException>(() => MoeConfig.Parse(doc.RootElement));
        Assert.Contains(named, e.Message);
    }

    [Fact]
    public void DeepSeek_V3_with_softmax_scores_is_refused_naming_the_field()
    {
        string json = (ConfigJson[2]).Replace("\"rope_interleave\"", "\"scoring_func\": \"softmax\", \"rope_interleave\"");
        using var doc = JsonDocument.Parse(json);
        Assert.Contains("scoring_func", Assert.Throws<InvalidDataException>(() => MoeConfig.Parse(doc.RootElement)).Message);
    }

    static double[] Inv(RopeScaling s, int dim = 16, double theta = 10000, int max = 64)
    {
        var (inv, _) = RopeTables.InverseFrequencies(dim, theta, s, max, torch.CPU);
        using (inv) return inv.data<float>().ToArray().Select(v => (double)v).ToArray();
    }

    [Fact]
    public void Rope_variants_match_their_closed_forms()
    {
        Fixtures.Cpu();
        const int dim = 16;
        double[] plain = Enumerable.Range(0, dim / 2).Select(i => 1 / Math.Pow(10000, 2.0 * i / dim)).ToArray();
        var linear = Inv(new RopeScaling { Kind = RopeKind.Linear, Factor = 2 });
        for (int i = 0; i < dim / 2; i++) Assert.Equal(plain[i] / 2, linear[i], 1e-6);
        // llama3: wavelengths above original/low are divided by the factor, below original/high kept, a ramp between
        var llama = Inv(new RopeScaling { Kind = RopeKind.Llama3, Factor = 8, OriginalMaxPositions = 64, LowFreqFactor = 1, HighFreqFactor = 4 });
        for (int i = 0; i < dim / 2; i++)
        {
            double wavelen = 2 * Math.PI / plain[i];
            double smooth = (64 / wavelen - 1) / (4 - 1);
            double expected = wavelen < 16 ? plain[i] : wavelen > 64 ? plain[i] / 8 : (1 - smooth) * plain[i] / 8 + smooth * plain[i];
            Assert.Equal(expected, llama[i], 1e-6);
        }
        // YaRN: dims below the fast correction bound keep their frequency, above the slow one are interpolated
        var yarnScaling = new RopeScaling { Kind = RopeKind.Yarn, Factor = 4, OriginalMaxPositions = 64 };
        var yarn = Inv(yarnScaling);
        double Bound(double rotations) => dim * Math.Log(64 / (rotations * 2 * Math.PI)) / (2 * Math.Log(10000));
        double low = Math.Max(Math.Floor(Bound(32)), 0), high = Math.Min(Math.Ceiling(Bound(1)), dim - 1);
        for (int i = 0; i < dim / 2; i++)
        {
            double ramp = Math.Clamp((i - low) / (high - low), 0, 1);
            Assert.Equal(plain[i] / 4 * ramp + plain[i] * (1 - ramp), yarn[i], 1e-6);
        }
        using var tables = new RopeTables(dim, 10000, yarnScaling, 64, torch.CPU);
        Assert.Equal(0.1 * Math.Log(4) + 1, tables.AttentionScaling, 1e-12);
        Assert.Equal(0.1 * Math.Log(4) + 1, tables.Cos[0, 0].item<float>(), 1e-6); // cos(0) scaled by the attention factor
        // dynamic NTK: within the trained context the plain frequencies; past it the base grows with the length
        var dynamic = new RopeScaling { Kind = RopeKind.Dynamic, Factor = 2 };
        Assert.Equal(plain, Inv(dynamic), new ToleranceComparer(1e-6));
        var (longer, _) = RopeTables.InverseFrequencies(dim, 10000, dynamic, 64, torch.CPU, seqLen: 128);
        double grown = 10000 * Math.Pow(2.0 * 128 / 64 - 1, dim / (dim - 2.0));
        using (longer)
            for (int i = 0; i < dim / 2; i++) Assert.Equal(1 / Math.Pow(grown, 2.0 * i / dim), longer[i].item<float>(), 1e-6);
    }

    sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= tolerance;
        public int GetHashCode(double v) => 0;
    }
}
