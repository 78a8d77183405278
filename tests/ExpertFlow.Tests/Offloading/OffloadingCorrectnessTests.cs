using ExpertFlow.Model;
using ExpertFlow.Offloading;
using ExpertFlow.Offloading.Policies;
using Toolkit.Runtime;
using static TorchSharp.torch;

namespace ExpertFlow.Tests.Offloading;

/// <summary>Every policy, budget and host tier gives the same ids and logits as the resident reference.</summary>
public class OffloadingCorrectnessTests
{
    public OffloadingCorrectnessTests() => LibTorch.EnsureLoaded();

    static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && (a == b).all().item<bool>();

    public static TheoryData<string, int, string, int> Cases()
    {
        var data = new TheoryData<string, int, string, int>();
        foreach (var policy in new[] { "on-demand", "lru", "next-layer", "expertflow-oracle" })
            foreach (int slots in new[] { 2, 7 })
                foreach (var tier in new[] { "arena", "disk" })
                    foreach (int batch in new[] { 1, 4 })
                        data.Add(policy, slots, tier, batch);
        data.Add("all-resident", 24, "arena", 4);
        data.Add("all-resident", 24, "disk", 1);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Logits_and_ids_equal_the_resident_reference(string policyName, int slots, string tier, int batch)
    {
        using var model = new ToyMoe();
        long[] start = Enumerable.Range(0, batch).Select(i => (long)(i * 7 + 3) % ToyMoe.Vocab).ToArray();
        var trace = new List<List<int>[]>();
        var (expected, expectedIds) = model.Generate(start, steps: 6, engine: null, trace: trace);

        var policy = policyName == "expertflow-oracle" ? new PredictivePolicy(new TraceForecast(model.Layout, trace)) : PolicyFactory.Create(PolicySpec.Parse(policyName));
        long budget = slots * model.Layout.BytesPerExpert;
        using var offloaded = OffloadedExperts.Create(model.Source, CPU, DeviceFootprint.None,
            new OffloadOptions(PolicySpec.Parse(policyName == "expertflow-oracle" ? "expertflow" : policyName), MemoryBudget.Bytes(budget), tier == "disk" ? HostTier.Disk : HostTier.Arena),
            new OffloadServices { Policy = policy });
        Assert.Equal(slots, offloaded.Plan.Slots);
        Assert.True(offloaded.Plan.PlannedBytes <= budget);

        var (actual, ids) = model.Generate(start, steps: 6, offloaded.Engine);
        offloaded.Engine.CheckInvariants();

        Assert.Equal(expectedIds, ids);
        Assert.True(Same(expected, actual), $"logits differ: max |diff| {(expected - actual).abs().max().item<float>()}");
        var stats = offloaded.Stats;
        Assert.Equal(6, stats.Steps);
        Assert.Equal(stats.Requests, stats.Layers.Sum(l => l.Hits + l.Misses));
        Assert.True(stats.PeakCachedExpertBytes <= budget, "cached experts exceeded the budget");
        if (policyName == "on-demand") Assert.Equal(0, stats.Hits);
    }

    [Fact]
    public void Implicit_release_gives_the_same_result()
    {
        using var model = new ToyMoe();
        long[] start = [1, 2, 3];
        var (expected, _) = model.Generate(start, 5, null);
        using var offloaded = OffloadedExperts.Create(model.Source, CPU, DeviceFootprint.None,
            new OffloadOptions(PolicySpec.Default, MemoryBudget.Bytes(3 * model.Layout.BytesPerExpert), HostTier.Arena) { ImplicitRelease = true });
        var (actual, _) = model.Generate(start, 5, offloaded.Engine, explicitRelease: false);
        Assert.True(Same(expected, actual));
    }

    [Fact]
    public void Bf16_experts_are_copied_bit_exactly()
    {
        using var model = new ToyMoe(dtype: ScalarType.BFloat16);
        long[] start = [5, 9];
        var (expected, _) = model.Generate(start, 4, null);
        using var offloaded = OffloadedExperts.Create(model.Source, CPU, DeviceFootprint.None,
            new OffloadOptions(PolicySpec.Parse("next-layer"), MemoryBudget.Bytes(4 * model.Layout.BytesPerExpert), HostTier.Arena));
        var (actual, _) = model.Generate(start, 4, offloaded.Engine);
        Assert.True(Same(expected, actual));
    }

    [Fact]
    [Trait("Category", "GPU")]
    public void Cuda_engine_matches_the_resident_reference_for_every_policy()
    {
        Assert.SkipUnless(cuda.is_available(), "no CUDA device");
        var device = new Device(TorchSharp.DeviceType.CUDA, 0);
        using var model = new ToyMoe();
        long[] start = [1, 4, 9, 16];
        var trace = new List<List<int>[]>();
        var (expected, expectedIds) = model.Generate(start, 6, null, device, trace: trace);
        foreach (var name in new[] { "all-resident", "on-demand", "lru", "next-layer", "expertflow-oracle" })
            foreach (var tier in new[] { HostTier.Arena, HostTier.Disk })
                foreach (int slots in name == "all-resident" ? new[] { 24 } : [2, 5, 12])
                {
                    var policy = name == "expertflow-oracle" ? new PredictivePolicy(new TraceForecast(model.Layout, trace)) : PolicyFactory.Create(PolicySpec.Parse(name));
                    var footprint = new DeviceFootprint(1 << 20, 1 << 20, 1 << 20);
                    using var offloaded = OffloadedExperts.Create(model.Source, device, footprint,
                        new OffloadOptions(PolicySpec.Parse(name == "expertflow-oracle" ? "expertflow" : name), MemoryBudget.Bytes(footprint.Total + slots * model.Layout.BytesPerExpert), tier),
                        new OffloadServices { Policy = policy });
                    var (actual, ids) = model.Generate(start, 6, offloaded.Engine, device);
                    Assert.Equal(expectedIds, ids);
                    Assert.True(Same(expected, actual), $"{name} {tier} {slots} slots: logits differ");
                }
    }
}

/// <summary>A perfect forecast replayed from a reference trace (tests the predictive hooks, not a predictor).</summary>
sealed class TraceForecast(ExpertLayout layout, List<List<int>[]> trace) : IRoutingForecast
{
    public float[][]? Forecast(StepInfo step)
    {
        if (step.Step >= trace.Count) return null;
        return trace[(int)step.Step].Select(experts =>
        {
            var s = new float[layout.ExpertsPerLayer];
            foreach (int e in experts) s[e] = 1;
            return s;
        }).ToArray();
    }
}
