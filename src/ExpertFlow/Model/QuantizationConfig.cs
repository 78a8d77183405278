using System.Text.Json;

namespace ExpertFlow.Model;

/// <summary>
/// config.json's <c>quantization_config</c> for a pre-quantized checkpoint (transformers' layout): 4-bit GPTQ (AutoGPTQ's
/// qweight/qzeros/scales/g_idx, with or without act-order, checkpoint_format gptq or gptq_v2) or 4-bit AWQ in the GEMM
/// layout, or MXFP4 experts of gpt-oss (<see cref="GptOssExpertWeights"/> decodes those). Anything else is a clear error
/// naming the field.
/// </summary>
/// <param name="Method">"gptq", "awq" or "mxfp4".</param>
/// <param name="Bits">Bits per weight (4).</param>
/// <param name="DescAct">GPTQ act-order: groups follow g_idx rather than consecutive inputs.</param>
/// <param name="GroupSize">Input features per scale and zero point (-1 in the file: one group for all of them).</param>
/// <param name="ZeroOffset">1 for AutoGPTQ's original format (stored zeros are the zero point minus one), else 0.</param>
public sealed record QuantizationConfig(string Method, int Bits, int GroupSize, bool DescAct, int ZeroOffset)
{
    /// <summary>The folder's quantization_config, or null when config.json has none.</summary>
    public static QuantizationConfig? Load(string folder)
    {
        string path = Path.Combine(folder, "config.json");
        if (!File.Exists(path)) return null;
        JsonElement q;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("quantization_config", out var found) || found.ValueKind == JsonValueKind.Null) return null;
            q = found.Clone();
        }
        catch (JsonException) { return null; } // config.json's own reader reports malformed files
        return Parse(q, path);
    }

    public static QuantizationConfig Parse(JsonElement q, string path)
    {
        string Fail(string field, string why) => throw new InvalidDataException($"{path}: quantization_config.{field} {why}");
        if (q.ValueKind != JsonValueKind.Object) Fail("", "must be an object");
        string method = q.TryGetProperty("quant_method", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()!.ToLowerInvariant() : Fail("quant_method", "is missing");
        if (method == "mxfp4") return new QuantizationConfig("mxfp4", 4, Mxfp4.BlockSize, false, 0); // gpt-oss experts: decoded by GptOssExpertWeights
        if (method is not ("gptq" or "awq")) Fail("quant_method", $"'{method}' is not supported; supported: gptq, awq (4-bit), mxfp4 (gpt_oss experts); use the model's BF16 release otherwise");
        int Int(string name, int? fallback)
        {
            if (q.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i)) return i;
            if (fallback is int f && (!q.TryGetProperty(name, out var present) || present.ValueKind == JsonValueKind.Null)) return f;
            return int.Parse(Fail(name, "must be an integer"));
        }
        bool Bool(string name, bool fallback)
        {
            if (!q.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return fallback;
            return v.ValueKind switch { JsonValueKind.True => true, JsonValueKind.False => false, _ => bool.Parse(Fail(name, "must be true or false")) };
        }
        string? Text(string name) => q.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()!.ToLowerInvariant() : null;
        int bits = Int(method == "gptq" ? "bits" : q.TryGetProperty("w_bit", out _) ? "w_bit" : "bits", null);
        if (bits != 4) Fail("bits", $"= {bits} is not supported (4-bit {method.ToUpperInvariant()} only)");
        int group = Int(method == "awq" && q.TryGetProperty("q_group_size", out _) ? "q_group_size" : "group_size", 128);
        if (group != -1 && (group < 8 || group % 8 != 0)) Fail("group_size", $"= {group} is not supported (a positive multiple of 8, or -1)");
        if (method == "gptq")
        {
            string format = Text("checkpoint_format") ?? "gptq";
            if (format is not ("gptq" or "gptq_v2")) Fail("checkpoint_format", $"'{format}' is not supported (gptq or gptq_v2)");
            return new QuantizationConfig("gptq", 4, group, Bool("desc_act", false), format == "gptq" ? 1 : 0);
        }
        string version = Text("version") ?? "gemm";
        if (version != "gemm") Fail("version", $"'{version}' is not supported (AWQ's gemm layout only)");
        if (!Bool("zero_point", true)) Fail("zero_point", "= false is not supported (AWQ with zero points only)");
        return new QuantizationConfig("awq", 4, group, false, 0);
    }
}
