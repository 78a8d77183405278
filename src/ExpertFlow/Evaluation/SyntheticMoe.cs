using ExpertFlow.Model;
using ExpertFlow.Offloading;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using static TorchSharp.torch;

namespace ExpertFlow.Evaluation;

/// <summary>
/// Writes a random-weight Qwen2-MoE checkpoint (config.json + one model.safetensors, bf16) in the Hugging Face
/// layout, loadable by the toolkit and by transformers. Expert bytes come from <see cref="RandomExpertSource"/>
/// (same seed), so an expert arena filled from that source holds exactly the checkpoint's experts.
/// </summary>
public static class SyntheticMoe
{
    public const ulong ExpertSeed = 11;

    public static string ExpertName(ExpertKey key, string role) => $"model.layers.{key.Layer}.mlp.experts.{key.Expert}.{role}_proj.weight";

    public static ExpertLayout ExpertLayoutOf(Qwen2MoeShape s) => new(Enumerable.Range(0, s.Layers).ToArray(), s.Experts,
        [new ExpertPart("gate", [s.MoeIntermediate, s.Hidden]), new ExpertPart("up", [s.MoeIntermediate, s.Hidden]), new ExpertPart("down", [s.Hidden, s.MoeIntermediate])],
        ScalarType.BFloat16);

    public static RandomExpertSource ExpertSource(Qwen2MoeShape s) => new(ExpertLayoutOf(s), ExpertSeed);

    /// <summary>Writes the folder (skipped when it already holds a checkpoint of this shape). Returns the folder.</summary>
    public static string Write(string folder, Qwen2MoeShape s)
    {
        Directory.CreateDirectory(folder);
        string configPath = Path.Combine(folder, "config.json"), modelPath = Path.Combine(folder, "model.safetensors");
        string config = ConfigJson(s);
        WriteTokenizer(folder, s.Vocab);
        if (File.Exists(modelPath) && File.Exists(configPath) && File.ReadAllText(configPath) == config) return folder;

        var dense = new List<(string Name, long[] Shape, float Scale, float Offset)>
        {
            ("model.embed_tokens.weight", [s.Vocab, s.Hidden], 0.02f, 0),
        };
        long qd = (long)s.Hidden, kvd = (long)s.Hidden / s.Heads * s.KvHeads;
        for (int l = 0; l < s.Layers; l++)
        {
            string p = $"model.layers.{l}";
            dense.AddRange([
                ($"{p}.input_layernorm.weight", [s.Hidden], 0, 1), ($"{p}.post_attention_layernorm.weight", [s.Hidden], 0, 1),
                ($"{p}.self_attn.q_proj.weight", [qd, s.Hidden], 0.02f, 0), ($"{p}.self_attn.q_proj.bias", [qd], 0.02f, 0),
                ($"{p}.self_attn.k_proj.weight", [kvd, s.Hidden], 0.02f, 0), ($"{p}.self_attn.k_proj.bias", [kvd], 0.02f, 0),
                ($"{p}.self_attn.v_proj.weight", [kvd, s.Hidden], 0.02f, 0), ($"{p}.self_attn.v_proj.bias", [kvd], 0.02f, 0),
                ($"{p}.self_attn.o_proj.weight", [s.Hidden, qd], 0.02f, 0),
                ($"{p}.mlp.gate.weight", [s.Experts, s.Hidden], 0.5f, 0),
                ($"{p}.mlp.shared_expert.gate_proj.weight", [s.SharedIntermediate, s.Hidden], 0.02f, 0),
                ($"{p}.mlp.shared_expert.up_proj.weight", [s.SharedIntermediate, s.Hidden], 0.02f, 0),
                ($"{p}.mlp.shared_expert.down_proj.weight", [s.Hidden, s.SharedIntermediate], 0.02f, 0),
                ($"{p}.mlp.shared_expert_gate.weight", [1, s.Hidden], 0.02f, 0),
            ]);
        }
        dense.Add(("model.norm.weight", [s.Hidden], 0, 1));
        dense.Add(("lm_head.weight", [s.Vocab, s.Hidden], 0.02f, 0));

        var layout = ExpertLayoutOf(s);
        var header = new Dictionary<string, object> { ["__metadata__"] = new Dictionary<string, string> { ["format"] = "pt" } };
        long offset = 0;
        foreach (var (name, shape, _, _) in dense) offset = Add(header, name, shape, offset);
        for (int i = 0; i < layout.TotalExperts; i++)
            foreach (var part in layout.Parts) offset = Add(header, ExpertName(layout.KeyAt(i), part.Name), part.Shape, offset);
        byte[] json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        int padded = (json.Length + 7) / 8 * 8;

        string temp = modelPath + ".tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)padded);
            file.Write(prefix);
            file.Write(json);
            for (int i = json.Length; i < padded; i++) file.WriteByte((byte)' ');
            ulong seed = 1;
            foreach (var (name, shape, scale, add) in dense)
            {
                long n = shape.Aggregate(1L, (a, b) => a * b);
                var buffer = new ushort[n];
                FillBf16(buffer, seed++, scale, add);
                file.Write(MemoryMarshal.AsBytes(buffer.AsSpan()));
            }
            var source = ExpertSource(s);
            // Experts: one MoE layer at a time, generated in parallel, written in order.
            int perLayer = s.Experts;
            var blocks = Enumerable.Range(0, perLayer).Select(_ => new byte[layout.BytesPerExpert]).ToArray();
            for (int l = 0; l < s.Layers; l++)
            {
                Parallel.For(0, perLayer, e => source.Read(new ExpertKey(l, e), blocks[e]));
                foreach (var b in blocks) file.Write(b);
            }
        }
        File.Move(temp, modelPath, overwrite: true);
        File.WriteAllText(configPath, config);
        return folder;
    }

    static long Add(Dictionary<string, object> header, string name, long[] shape, long offset)
    {
        long bytes = shape.Aggregate(2L, (a, b) => a * b);
        header[name] = new Dictionary<string, object> { ["dtype"] = "BF16", ["shape"] = shape, ["data_offsets"] = new[] { offset, offset + bytes } };
        return offset + bytes;
    }

    static void FillBf16(ushort[] values, ulong seed, float scale, float add)
    {
        const int Chunk = 1 << 20;
        Parallel.For(0, (values.Length + Chunk - 1) / Chunk, c =>
        {
            ulong x = (seed * 0x9E3779B97F4A7C15UL) ^ ((ulong)c + 1) * 0xD1B54A32D192ED03UL;
            if (x == 0) x = 1;
            int end = Math.Min(values.Length, (c + 1) * Chunk);
            for (int i = c * Chunk; i < end; i++)
            {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                float v = add + ((x >> 40) * (1.0f / (1 << 24)) * 2f - 1f) * scale;
                values[i] = (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16);
            }
        });
    }

    /// <summary>
    /// A word-level tokenizer.json for the random model (token i is the word "t{i}", split on whitespace), so that text
    /// endpoints and tools work on it: "t1 t2 t3" encodes to [1, 2, 3].
    /// </summary>
    static void WriteTokenizer(string folder, int vocab)
    {
        string path = Path.Combine(folder, "tokenizer.json");
        if (File.Exists(path)) return;
        var words = new Dictionary<string, int>(vocab);
        for (int i = 0; i < vocab; i++) words["t" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)] = i;
        var tokenizer = new Dictionary<string, object?>
        {
            ["version"] = "1.0", ["added_tokens"] = Array.Empty<object>(), ["normalizer"] = null,
            ["pre_tokenizer"] = new Dictionary<string, object> { ["type"] = "WhitespaceSplit" },
            ["post_processor"] = null,
            ["decoder"] = new Dictionary<string, object> { ["type"] = "WordPiece", ["prefix"] = "##", ["cleanup"] = false },
            ["model"] = new Dictionary<string, object> { ["type"] = "WordLevel", ["vocab"] = words, ["unk_token"] = "t0" },
        };
        Toolkit.Reporting.Files.WriteAllTextAtomically(path, JsonSerializer.Serialize(tokenizer));
    }

    static string ConfigJson(Qwen2MoeShape s) => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["architectures"] = new[] { "Qwen2MoeForCausalLM" },
        ["model_type"] = "qwen2_moe",
        ["hidden_size"] = s.Hidden,
        ["intermediate_size"] = s.SharedIntermediate,
        ["moe_intermediate_size"] = s.MoeIntermediate,
        ["shared_expert_intermediate_size"] = s.SharedIntermediate,
        ["num_hidden_layers"] = s.Layers,
        ["num_attention_heads"] = s.Heads,
        ["num_key_value_heads"] = s.KvHeads,
        ["num_experts"] = s.Experts,
        ["num_experts_per_tok"] = s.TopK,
        ["norm_topk_prob"] = false,
        ["decoder_sparse_step"] = 1,
        ["mlp_only_layers"] = Array.Empty<int>(),
        ["vocab_size"] = s.Vocab,
        ["max_position_embeddings"] = s.MaxPositions,
        ["rope_theta"] = 1000000.0,
        ["rms_norm_eps"] = 1e-6,
        ["hidden_act"] = "silu",
        ["tie_word_embeddings"] = false,
        ["qkv_bias"] = true,
        ["use_sliding_window"] = false,
        ["bos_token_id"] = 151643,
        ["eos_token_id"] = 151643,
        ["torch_dtype"] = "bfloat16",
    }, new JsonSerializerOptions { WriteIndented = true });
}
