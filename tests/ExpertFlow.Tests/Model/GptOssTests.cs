using ExpertFlow.Model;
using ExpertFlow.Offloading;
using ExpertFlow.Offloading.Policies;
using Toolkit.Runtime.Safetensors;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ExpertFlow.Tests.Model;

/// <summary>
/// gpt-oss without the transformers fixtures: the MXFP4 code against hand-computed values, the config reader's refusals,
/// and a small random gpt-oss checkpoint in the Hub's layout (stacked experts with gate and up interleaved, biases, sinks,
/// alternating sliding-window layers) against a plain reference written here from transformers' formulas (whole sequence,
/// no cache), on every expert path; its MXFP4 twin against the same checkpoint holding the decoded values.
/// </summary>
public class GptOssTests
{
    // ------------------------------------------------------------------------------------------------ MXFP4
    [Fact]
    public void Every_e2m1_code_has_its_value_from_the_bit_fields()
    {
        for (int c = 0; c < 16; c++)
        {
            int sign = c >> 3, exponent = (c >> 1) & 3, mantissa = c & 1;
            double magnitude = exponent == 0 ? 0.5 * mantissa : Math.Pow(2, exponent - 1) * (1 + 0.5 * mantissa);
            Assert.Equal(sign == 1 ? -magnitude : magnitude, Mxfp4.Code(c));
        }
    }

    [Fact]
    public void Mxfp4_blocks_decode_to_hand_computed_values()
    {
        var blocks = new byte[32];
        blocks[0] = 0x71; // low 1 (0.5), high 7 (6)
        blocks[1] = 0xA8; // low 8 (-0), high 10 (-1)
        blocks[2] = 0x3C; // low 12 (-2), high 3 (1.5)
        blocks[16] = 0xF5; // second block: low 5 (3), high 15 (-6)
        byte[] scales = [128, 125]; // 2^1, 2^-2
        var values = new float[64];
        Mxfp4.Decode(blocks, scales, values);
        float[] expected = [1f, 12f, -0f, -2f, -4f, 3f];
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], values[i]);
        Assert.All(values.AsSpan(6, 26).ToArray(), v => Assert.Equal(0f, v));
        Assert.Equal(0.75f, values[32]);
        Assert.Equal(-1.5f, values[33]);
        Assert.True(float.IsNegative(values[2]));
        var e = Assert.Throws<InvalidDataException>(() => Mxfp4.Decode(blocks, new byte[] { 255, 127 }, values, "'x_blocks'"));
        Assert.Contains("'x_blocks'", e.Message);
    }

    // ------------------------------------------------------------------------------------------------ config
    const int Vocab = 96, Hidden = 64, Heads = 4, KvHeads = 2, HeadDim = 16, Inter = 32, Experts = 4, TopK = 2, Layers = 3, Window = 3;

    static string ConfigJson(string extra = "", string layerTypes = """["sliding_attention", "full_attention", "sliding_attention"]""") => $$"""
        {"model_type": "gpt_oss", "vocab_size": {{Vocab}}, "hidden_size": {{Hidden}}, "intermediate_size": {{Inter}}, "head_dim": {{HeadDim}},
         "num_attention_heads": {{Heads}}, "num_key_value_heads": {{KvHeads}}, "num_hidden_layers": {{Layers}}, "num_local_experts": {{Experts}},
         "num_experts_per_tok": {{TopK}}, "layer_types": {{layerTypes}}, "sliding_window": {{Window}}, "rms_norm_eps": 1e-5,
         "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0}, "max_position_embeddings": 64, "attention_bias": true,
         "tie_word_embeddings": false, "hidden_act": "silu", "swiglu_limit": 7.0, "eos_token_id": 0 {{extra}}}
        """;

    [Fact]
    public void The_config_is_read_with_its_layer_types_and_experts()
    {
        using var temp = new TempFolder("gptoss-config");
        File.WriteAllText(temp.File("config.json"), ConfigJson(""", "quantization_config": {"quant_method": "mxfp4", "modules_to_not_convert": ["lm_head"]}"""));
        var c = MoeConfig.Load(temp.Path);
        Assert.Equal(ModelFamily.GptOss, c.Family);
        Assert.Equal([true, false, true], c.SlidingLayers);
        Assert.Equal(Window, c.SlidingWindow);
        Assert.True(c.AttentionSinks && c.RouterBias && c.ExpertBiases && c.Mxfp4Experts);
        Assert.Equal(7.0, c.SwigluLimit);
        Assert.Equal(Experts, c.NumExperts);
        Assert.Equal(Inter, c.ExpertIntermediateSize);
    }

    [Theory]
    [InlineData(""", "quantization_config": {"quant_method": "gptq", "bits": 4}""", null, "quantization_config.quant_method")]
    [InlineData(""", "hidden_act": "gelu" """, null, "hidden_act")]
    [InlineData("", """["sliding_attention", "chunked_attention", "full_attention"]""", "layer_types")]
    [InlineData("", """["sliding_attention", "full_attention"]""", "layer_types")]
    [InlineData(""", "sliding_window": null""", null, "sliding_window")]
    [InlineData(""", "swiglu_limit": 0""", null, "swiglu_limit")]
    public void An_unsupported_variant_names_the_field(string extra, string? layerTypes, string field)
    {
        using var temp = new TempFolder("gptoss-config");
        // a later duplicate key wins in System.Text.Json's lookup: the extra settings override the base ones
        File.WriteAllText(temp.File("config.json"), layerTypes is null ? ConfigJson(extra) : ConfigJson(extra, layerTypes));
        var e = Assert.Throws<InvalidDataException>(() => MoeConfig.Load(temp.Path));
        Assert.Contains(field, e.Message);
    }

    [Fact]
    public void Mxfp4_is_refused_for_other_families()
    {
        using var temp = new TempFolder("gptoss-config");
        File.WriteAllText(temp.File("config.json"), """{"model_type": "mixtral", "vocab_size": 32, "hidden_size": 32, "intermediate_size": 32, "num_attention_heads": 4, "num_hidden_layers": 1, "num_local_experts": 4, "num_experts_per_tok": 2, "quantization_config": {"quant_method": "mxfp4"}}""");
        var e = Assert.Throws<InvalidDataException>(() => MoeConfig.Load(temp.Path));
        Assert.Contains("quantization_config.quant_method", e.Message);
    }

    // ------------------------------------------------------------------------------------------------ a small checkpoint
    /// <summary>Random weights in transformers' in-memory (= unquantized Hub) layout, seeded.</summary>
    static Dictionary<string, Tensor> RandomCheckpoint()
    {
        var g = new Generator(7);
        Tensor R(double scale, params long[] shape) => randn(shape, generator: g) * scale;
        var w = new Dictionary<string, Tensor>
        {
            ["model.embed_tokens.weight"] = R(1, Vocab, Hidden),
            ["model.norm.weight"] = R(0.1, Hidden) + 1,
            ["lm_head.weight"] = R(2 / Math.Sqrt(Hidden), Vocab, Hidden),
        };
        for (int l = 0; l < Layers; l++)
        {
            string p = $"model.layers.{l}";
            w[$"{p}.input_layernorm.weight"] = R(0.1, Hidden) + 1;
            w[$"{p}.post_attention_layernorm.weight"] = R(0.1, Hidden) + 1;
            foreach (var (n, rows) in new[] { ("q", Heads * HeadDim), ("k", KvHeads * HeadDim), ("v", KvHeads * HeadDim) })
            {
                w[$"{p}.self_attn.{n}_proj.weight"] = R(1 / Math.Sqrt(Hidden), rows, Hidden);
                w[$"{p}.self_attn.{n}_proj.bias"] = R(0.1, rows);
            }
            w[$"{p}.self_attn.o_proj.weight"] = R(1 / Math.Sqrt(Heads * HeadDim), Hidden, Heads * HeadDim);
            w[$"{p}.self_attn.o_proj.bias"] = R(0.1, Hidden);
            w[$"{p}.self_attn.sinks"] = R(1.5, Heads);
            w[$"{p}.mlp.router.weight"] = R(2 / Math.Sqrt(Hidden), Experts, Hidden);
            w[$"{p}.mlp.router.bias"] = R(0.3, Experts);
            w[$"{p}.mlp.experts.gate_up_proj"] = R(4 / Math.Sqrt(Hidden), Experts, Hidden, 2 * Inter); // large enough that the clamp acts
            w[$"{p}.mlp.experts.gate_up_proj_bias"] = R(0.5, Experts, 2 * Inter);
            w[$"{p}.mlp.experts.down_proj"] = R(0.3 / Math.Sqrt(Inter), Experts, Inter, Hidden);
            w[$"{p}.mlp.experts.down_proj_bias"] = R(0.3, Experts, Hidden);
        }
        return w;
    }

    static string WriteFolder(TempFolder temp, string name, Dictionary<string, Tensor> weights, string extra = "")
    {
        string folder = temp.File(name);
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "config.json"), ConfigJson(extra));
        SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), weights.Select(kv => KeyValuePair.Create(kv.Key, kv.Value.contiguous())));
        return folder;
    }

    static Tensor RmsNorm(Tensor x, Tensor w) => w * (x * rsqrt(x.pow(2).mean([-1], keepdim: true) + 1e-5));

    /// <summary>
    /// transformers' GptOssForCausalLM forward on a whole sequence, written from its formulas: logits [T, V]. Attention
    /// over allowed keys (causal; sliding layers: key &gt; query - window) plus the head's sink; router top-k of the biased
    /// logits with a softmax over them; experts x·gate_up_proj + bias, gate = even columns, up = odd, clamp at 7,
    /// (up + 1)·gate·σ(1.702·gate), then ·down_proj + bias.
    /// </summary>
    static Tensor Reference(Dictionary<string, Tensor> w, int[] ids)
    {
        using var _ = no_grad();
        long t = ids.Length;
        var x = w["model.embed_tokens.weight"].index_select(0, tensor(ids.Select(i => (long)i).ToArray()));
        var pos = arange(t, ScalarType.Float32);
        var invFreq = tensor(Enumerable.Range(0, HeadDim / 2).Select(i => (float)(1.0 / Math.Pow(10000, 2.0 * i / HeadDim))).ToArray());
        var ang = pos.unsqueeze(1) * invFreq.unsqueeze(0); // [T, hd/2]
        var cos = ang.cos().unsqueeze(1);
        var sin = ang.sin().unsqueeze(1);
        Tensor Rope(Tensor v) // [T, heads, hd], halves rotated
        {
            var a = v.narrow(-1, 0, HeadDim / 2);
            var b = v.narrow(-1, HeadDim / 2, HeadDim / 2);
            return cat([a * cos - b * sin, b * cos + a * sin], -1);
        }
        bool[] sliding = [true, false, true];
        for (int l = 0; l < Layers; l++)
        {
            string p = $"model.layers.{l}";
            var hn = RmsNorm(x, w[$"{p}.input_layernorm.weight"]);
            var q = Rope(F.linear(hn, w[$"{p}.self_attn.q_proj.weight"], w[$"{p}.self_attn.q_proj.bias"]).view(t, Heads, HeadDim));
            var k = Rope(F.linear(hn, w[$"{p}.self_attn.k_proj.weight"], w[$"{p}.self_attn.k_proj.bias"]).view(t, KvHeads, HeadDim));
            var v = F.linear(hn, w[$"{p}.self_attn.v_proj.weight"], w[$"{p}.self_attn.v_proj.bias"]).view(t, KvHeads, HeadDim);
            var heads = new Tensor[Heads];
            var mask = new bool[t * t];
            for (int i = 0; i < t; i++)
                for (int s = 0; s < t; s++)
                    mask[i * t + s] = s <= i && (!sliding[l] || s > i - Window);
            var allowed = tensor(mask, [t, t]);
            for (int hh = 0; hh < Heads; hh++)
            {
                int kvh = hh / (Heads / KvHeads);
                var scores = matmul(q.select(1, hh), k.select(1, kvh).t()) / Math.Sqrt(HeadDim);
                scores = scores.masked_fill(allowed.logical_not(), double.NegativeInfinity);
                var sink = w[$"{p}.self_attn.sinks"][hh].expand(t, 1);
                var probs = cat([scores, sink], 1).softmax(1).narrow(1, 0, t);
                heads[hh] = matmul(probs, v.select(1, kvh));
            }
            x = x + F.linear(cat(heads, 1), w[$"{p}.self_attn.o_proj.weight"], w[$"{p}.self_attn.o_proj.bias"]);
            hn = RmsNorm(x, w[$"{p}.post_attention_layernorm.weight"]);
            var logits = F.linear(hn, w[$"{p}.mlp.router.weight"], w[$"{p}.mlp.router.bias"]);
            var (top, chosen) = logits.topk(TopK, -1);
            var weights = top.softmax(-1);
            var moe = zeros_like(x);
            for (int i = 0; i < t; i++)
                for (int j = 0; j < TopK; j++)
                {
                    long e = chosen[i, j].item<long>();
                    var gu = matmul(hn[i], w[$"{p}.mlp.experts.gate_up_proj"][e]) + w[$"{p}.mlp.experts.gate_up_proj_bias"][e];
                    var gate = gu.slice(0, 0, 2 * Inter, 2).clamp_max(7.0);
                    var up = gu.slice(0, 1, 2 * Inter, 2).clamp(-7.0, 7.0);
                    var act = (up + 1) * (gate * F.sigmoid(gate * 1.702));
                    var o = matmul(act, w[$"{p}.mlp.experts.down_proj"][e]) + w[$"{p}.mlp.experts.down_proj_bias"][e];
                    moe[i] = moe[i] + weights[i, j] * o;
                }
            x = x + moe;
        }
        return F.linear(RmsNorm(x, w["model.norm.weight"]), w["lm_head.weight"]);
    }

    static readonly int[] Prompt = [5, 17, 42, 9, 77, 3, 60];
    static readonly int[] Fed = [11, 23, 8, 90, 31, 2, 47, 66];

    /// <summary>The model's logits of the prompt (every position), then of each token of <see cref="Fed"/> through the cache.</summary>
    static List<float[]> RunModel(string folder, ExpertFlow.Model.IExpertProvider? experts = null)
    {
        using var model = MoeModels.Load(folder, new ModelLoadOptions { Device = Fixtures.Cpu(), Experts = experts });
        model.ResetCache(1, 32);
        var rows = new List<float[]>();
        using (var prefill = model.Step([Prompt], allPositions: true))
        {
            var all = prefill.reshape(Prompt.Length, -1);
            for (int i = 0; i < Prompt.Length; i++) rows.Add(Fixtures.Row(all[i]));
        }
        foreach (int token in Fed)
            using (var logits = model.Step([[token]]))
                rows.Add(Fixtures.Row(logits));
        return rows;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_random_checkpoint_matches_the_written_out_reference(bool stacked)
    {
        Fixtures.Cpu();
        using var temp = new TempFolder("gptoss-model");
        var w = RandomCheckpoint();
        string folder = WriteFolder(temp, "plain", w);
        var got = RunModel(folder, new ResidentExpertProvider(stacked));
        using var reference = Reference(w, [.. Prompt, .. Fed]);
        for (int i = 0; i < got.Count; i++)
        {
            double d = Fixtures.MaxAbsDiff(got[i], Fixtures.Row(reference[i]));
            Assert.True(d <= 1e-4, $"position {i} differs by {d:g3}");
        }
    }

    /// <summary>
    /// MXFP4 experts: random codes and scales written as the Hub stores them, against a full-precision checkpoint holding
    /// the values decoded here from the bit fields (gate_up rows transposed into [E, H, 2I]): the same logits.
    /// </summary>
    [Fact]
    public void Mxfp4_experts_give_the_logits_of_their_decoded_values()
    {
        Fixtures.Cpu();
        using var temp = new TempFolder("gptoss-mxfp4");
        var w = RandomCheckpoint();
        var rng = new Random(3);
        var quantized = w.Where(kv => !kv.Key.EndsWith("experts.gate_up_proj") && !kv.Key.EndsWith("experts.down_proj"))
            .ToDictionary(kv => kv.Key, kv => kv.Value);
        var raw = new List<RawTensor>();
        static float Decode(byte b, bool high, byte scale)
        {
            int c = high ? b >> 4 : b & 15;
            int e = (c >> 1) & 3, m = c & 1;
            double v = e == 0 ? 0.5 * m : Math.Pow(2, e - 1) * (1 + 0.5 * m);
            return (float)((c >> 3) == 1 ? -v : v) * (float)Math.Pow(2, scale - 127);
        }
        for (int l = 0; l < Layers; l++)
            foreach (var (name, rows, cols) in new[] { ("gate_up_proj", 2 * Inter, Hidden), ("down_proj", Hidden, Inter) })
            {
                int groups = cols / 32;
                var blocks = new byte[Experts * rows * groups * 16];
                var scales = new byte[Experts * rows * groups];
                rng.NextBytes(blocks);
                for (int i = 0; i < scales.Length; i++) scales[i] = (byte)rng.Next(121, 126);
                var values = new float[Experts * rows * cols]; // [E, rows, cols]
                for (int i = 0; i < values.Length; i++)
                {
                    int block = i / 32, within = i % 32;
                    values[i] = Decode(blocks[block * 16 + within / 2], within % 2 == 1, scales[block]);
                }
                string p = $"model.layers.{l}.mlp.experts.{name}";
                raw.Add(new RawTensor(p + "_blocks", SafetensorsDType.U8, [Experts, rows, groups, 16], blocks));
                raw.Add(new RawTensor(p + "_scales", SafetensorsDType.U8, [Experts, rows, groups], scales));
                quantized.Remove(p);
                // transformers' layout: [E, in, out]
                w[p] = tensor(values, [Experts, rows, cols]).transpose(1, 2).contiguous();
            }
        string plain = WriteFolder(temp, "plain", w);
        string mx = temp.File("mxfp4");
        Directory.CreateDirectory(mx);
        File.WriteAllText(Path.Combine(mx, "config.json"), ConfigJson(""", "quantization_config": {"quant_method": "mxfp4", "modules_to_not_convert": ["model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"]}"""));
        raw.AddRange(quantized.Select(kv =>
        {
            var c = kv.Value.contiguous();
            return new RawTensor(kv.Key, SafetensorsDType.F32, c.shape, c.bytes.ToArray());
        }));
        SafetensorsWriter.WriteRaw(Path.Combine(mx, "model.safetensors"), raw);
        var expected = RunModel(plain);
        var got = RunModel(mx);
        for (int i = 0; i < got.Count; i++) Assert.Equal(expected[i], got[i]);
        using var reference = Reference(w, [.. Prompt, .. Fed]);
        Assert.True(Fixtures.MaxAbsDiff(got[^1], Fixtures.Row(reference[^1])) <= 1e-4);
    }

    [Theory]
    [InlineData("on-demand", 2)]
    [InlineData("lru+lookahead", 5)]
    [InlineData("on-demand+cpu", 2)]
    public void Offloaded_experts_give_the_resident_logits_bit_for_bit(string policy, int slots)
    {
        Fixtures.Cpu();
        using var temp = new TempFolder("gptoss-offload");
        string folder = WriteFolder(temp, "plain", RandomCheckpoint());
        var expected = RunModel(folder, new ResidentExpertProvider(offerStacked: false));
        var spec = PolicySpec.Parse(policy);
        var options = new OffloadOptions(spec, MemoryBudget.ExpertSlots(slots), spec.HostCompute ? HostTier.Arena : HostTier.Auto);
        using var offloaded = OffloadedModel.Load(folder, new ModelLoadOptions { Device = Fixtures.Cpu() }, options, new Workload(1, Prompt.Length, 32));
        var model = offloaded.Model;
        model.ResetCache(1, 32);
        var got = new List<float[]>();
        using (var prefill = model.Step([Prompt], allPositions: true))
        {
            var all = prefill.reshape(Prompt.Length, -1);
            for (int i = 0; i < Prompt.Length; i++) got.Add(Fixtures.Row(all[i]));
        }
        foreach (int token in Fed)
            using (var logits = model.Step([[token]]))
                got.Add(Fixtures.Row(logits));
        for (int i = 0; i < got.Count; i++) Assert.Equal(expected[i], got[i]);
        Assert.True(offloaded.Provider.Stats!.Requests > 0);
    }
}
