using ExpertFlow.Model;
using ExpertFlow.Offloading;
using ExpertFlow.Offloading.Policies;
using ExpertFlow.Tests.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace ExpertFlow.Tests.Quantization;

/// <summary>
/// Quantized experts through every path: offloaded under every policy (bit-identical to the resident provider of the
/// same format on the CPU), the resident stacked kernels (gather, dense, grouped GEMM) against the per-expert path, and
/// the quantized model against the unquantized one (close, not equal).
/// </summary>
public class QuantizedOffloadingTests
{
    public static TheoryData<string, string, string> Cases()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var (family, format) in new[] { ("mixtral", "int8"), ("mixtral", "int4-g32"), ("qwen2_moe", "int8"), ("deepseek", "int8") })
            foreach (var policy in new[] { "all-resident", "on-demand", "lru", "next-layer", "lru+lookahead", "lru+cpu" })
                data.Add(family, format, policy);
        return data;
    }

    static (List<Tensor> Logits, int[][] Ids) Run(Func<IMoeModel> load, int[][] prompts, int steps = 6)
    {
        using var model = load();
        model.ResetCache(prompts.Length, 64);
        var all = new List<Tensor>();
        var ids = prompts.Select(_ => new List<int>()).ToArray();
        var next = prompts;
        for (int step = 0; step <= steps; step++)
        {
            using var logits = model.Step(next);
            all.Add(logits.cpu().clone());
            var chosen = logits.argmax(-1).cpu().data<long>().ToArray().Select(x => (int)x).ToArray();
            for (int r = 0; r < prompts.Length; r++) ids[r].Add(chosen[r]);
            next = chosen.Select(c => new[] { c }).ToArray();
        }
        (model.ExpertProvider as OffloadingExpertProvider)?.Finish();
        return (all, ids.Select(l => l.ToArray()).ToArray());
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Offloaded_equals_resident_for_the_same_format(string family, string format, string policy)
    {
        Assert.SkipUnless(Fixtures.Exists(family), $"fixture {family} not present");
        var device = Fixtures.Cpu();
        var expertFormat = ExpertFormat.Parse(format);
        var prompts = Fixtures.Cases(family).Select(c => c.InputIds).ToArray();
        string folder = Fixtures.Folder(family);
        var (expected, expectedIds) = Run(() => MoeModels.Load(folder, new ModelLoadOptions { Device = device, ExpertFormat = expertFormat, Experts = new ResidentExpertProvider(offerStacked: false) }), prompts);

        var config = MoeConfig.Load(folder);
        int slots = policy == "all-resident" ? config.MoeLayerCount * config.NumExperts : Math.Max(2, config.MoeLayerCount * config.NumExperts / 3);
        var spec = PolicySpec.Parse(policy);
        var options = new OffloadOptions(spec, MemoryBudget.ExpertSlots(slots), HostTier.Auto);
        OffloadingExpertProvider? provider = null;
        var (logits, ids) = Run(() =>
        {
            var offloaded = OffloadedModel.Load(folder, new ModelLoadOptions { Device = device, ExpertFormat = expertFormat }, options, new Workload(prompts.Length, prompts.Max(p => p.Length), 64));
            provider = offloaded.Provider;
            return offloaded.Model;
        }, prompts);
        Assert.Equal(expectedIds, ids);
        for (int i = 0; i < expected.Count; i++)
            Assert.True(expected[i].allclose(logits[i], 0, 0), $"{family} {format} {policy}: step {i} logits differ by {(expected[i] - logits[i]).abs().max().item<float>():g3}");
        var stats = provider!.Stats!;
        Assert.Equal("host-arena", stats.HostTier); // packed experts are made once, into an arena
        var layout = PackedExpertLayout.For(expertFormat, [2L * config.ExpertIntermediateSize, config.HiddenSize], [config.HiddenSize, config.ExpertIntermediateSize]);
        Assert.Equal(layout.Bytes, stats.Plan.BytesPerExpert); // slots hold packed bytes
        if (spec.HostCompute) Assert.True(stats.HostComputedExperts > 0, "no expert was computed on the host");
    }

    /// <summary>The resident stacked kernels on packed experts (gather, dense, grouped GEMM) against the per-expert path.</summary>
    [Theory]
    [InlineData("mixtral", "int8", false)]
    [InlineData("mixtral", "int4-g32", false)]
    [InlineData("mixtral", "int4-g32", true)]
    [InlineData("qwen3_moe", "int8", true)]
    public void Stacked_paths_agree_with_the_per_expert_path(string family, string format, bool grouped)
    {
        Assert.SkipUnless(Fixtures.Exists(family), $"fixture {family} not present");
        var device = Fixtures.Cpu();
        var f = ExpertFormat.Parse(format);
        var prompts = Fixtures.Cases(family).Select(c => c.InputIds).ToArray();
        string folder = Fixtures.Folder(family);
        var (expected, expectedIds) = Run(() => MoeModels.Load(folder, new ModelLoadOptions { Device = device, ExpertFormat = f, Experts = new ResidentExpertProvider(offerStacked: false) }), prompts);
        using var force = grouped ? Ops.ForceFusedKernels(true) : null;
        if (grouped) Assert.SkipUnless(Toolkit.Runtime.LibTorchOps.IsAvailable(out _), "libtorch without the grouped GEMM");
        int before = MoeBlock.GroupedGemmRuns;
        var (logits, ids) = Run(() => MoeModels.Load(folder, new ModelLoadOptions { Device = device, ExpertFormat = f }), prompts);
        if (grouped) Assert.True(MoeBlock.GroupedGemmRuns > before, "the grouped GEMM did not run");
        Assert.Equal(expectedIds, ids);
        for (int i = 0; i < expected.Count; i++)
        {
            double diff = (expected[i] - logits[i]).abs().max().item<float>();
            Assert.True(diff <= 1e-4, $"{family} {format}: step {i} logits differ by {diff:g3}");
        }
    }

    [Theory]
    [InlineData("int8", 0.02)]
    [InlineData("int4-g32", 0.3)]
    public void Quantized_logits_stay_close_to_the_unquantized_ones(string format, double tolerance)
    {
        Assert.SkipUnless(Fixtures.Exists("mixtral"), "fixture mixtral not present");
        var device = Fixtures.Cpu();
        var prompts = Fixtures.Cases("mixtral").Select(c => c.InputIds).ToArray();
        string folder = Fixtures.Folder("mixtral");
        var (exact, _) = Run(() => MoeModels.Load(folder, new ModelLoadOptions { Device = device }), prompts, steps: 0);
        var (quantized, _) = Run(() => MoeModels.Load(folder, new ModelLoadOptions { Device = device, ExpertFormat = ExpertFormat.Parse(format) }), prompts, steps: 0);
        double diff = (exact[0] - quantized[0]).abs().max().item<float>();
        double scale = exact[0].abs().max().item<float>();
        Assert.True(diff > 0, "quantization changed nothing");
        Assert.True(diff <= tolerance * scale, $"{format}: logits moved by {diff:g3} (largest logit {scale:g3})");
    }
}
