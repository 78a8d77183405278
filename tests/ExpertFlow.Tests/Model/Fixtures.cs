using System.Text.Json;
using ExpertFlow.Model;
using Toolkit.Runtime;
using TorchSharp;

namespace ExpertFlow.Tests.Model;

/// <summary>One reference case of a fixture: prompt, prefill logits, teacher-forced decode steps, greedy continuation.</summary>
public sealed record ReferenceCase(int[] InputIds, float[][] PrefillLogits, int[] DecodeTokens, float[][] DecodeLogits, int[] Greedy);

/// <summary>The committed tiny models (tests/fixtures/moe/FAMILY) and their transformers reference outputs.</summary>
public static class Fixtures
{
    /// <summary>Every fixture the generator (tests/fixtures/python/make_moe_fixtures.py) makes.</summary>
    public static readonly string[] AllFamilies = ["mixtral", "qwen2_moe", "qwen3_moe", "olmoe", "deepseek", "switch_transformers",
        "qwen3_moe_yarn", "qwen3_moe_linear", "qwen3_moe_dynamic", "qwen3_moe_llama3", "granitemoe", "deepseek_v2", "deepseek_v3",
        "gpt_oss", "gpt_oss_mxfp4"];

    /// <summary>The fixtures checked in (parity tests report the others as skipped).</summary>
    public static readonly string[] Families = AllFamilies.Where(Exists).ToArray();

    public static string Folder(string family)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "fixtures", "moe", family);
        if (!Directory.Exists(path)) throw new DirectoryNotFoundException($"fixture {path} missing (tests/fixtures/moe is copied into the test output)");
        return path;
    }

    public static bool Exists(string family) => Directory.Exists(Path.Combine(AppContext.BaseDirectory, "fixtures", "moe", family));

    public static IReadOnlyList<ReferenceCase> Cases(string family)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder(family), "reference.json")));
        return doc.RootElement.GetProperty("cases").EnumerateArray().Select(c => new ReferenceCase(
            Ints(c.GetProperty("input_ids")), Matrix(c.GetProperty("prefill_logits")), Ints(c.GetProperty("decode_tokens")),
            Matrix(c.GetProperty("decode_logits")), Ints(c.GetProperty("greedy")))).ToList();
    }

    public static (string Text, int[] Ids)? TokenizerCheck(string family)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder(family), "reference.json")));
        if (!doc.RootElement.TryGetProperty("tokenizer_check", out var t)) return null;
        return (t.GetProperty("text").GetString()!, Ints(t.GetProperty("ids")));
    }

    static int[] Ints(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();
    static float[][] Matrix(JsonElement e) => e.EnumerateArray().Select(r => r.EnumerateArray().Select(x => x.GetSingle()).ToArray()).ToArray();

    public static float[] Row(torch.Tensor logits) => logits.to(torch.ScalarType.Float32).cpu().data<float>().ToArray();

    public static double MaxAbsDiff(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }

    public static torch.Device Cpu()
    {
        LibTorch.EnsureLoaded();
        torch.set_num_threads(1); // tiny models: threads only fight over CI's two cores
        return torch.CPU;
    }
}
