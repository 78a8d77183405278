using ExpertFlow.Model;
using ExpertFlow.Offloading;
using ExpertFlow.Offloading.Policies;
using ExpertFlow.Tests.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace ExpertFlow.Tests.Offloading;

/// <summary>The one footprint formula against what a loaded model actually holds.</summary>
public class DeviceFootprintTests
{
    [Theory]
    [InlineData("mixtral")]
    [InlineData("qwen2_moe")]
    [InlineData("deepseek")]
    [InlineData("switch_transformers")]
    public void Cache_and_weight_terms_equal_what_the_model_allocates(string family)
    {
        Fixtures.Cpu();
        Assert.SkipUnless(Fixtures.Exists(family), $"fixture {family} not present");
        using var model = MoeModels.Load(Fixtures.Folder(family));
        var workload = new Workload(3, 5, 12);
        model.BeginSequences(Enumerable.Repeat(new[] { 1, 2, 3, 4, 5 }, 3).ToArray());
        model.ResetCache(workload.Rows, workload.Capacity);
        // Switch holds the encoder's cross-attention keys and values next to its decoder cache; the formula counts both.
        long encoderState = model.Config.IsEncoderDecoder ? model.KvCacheBytes(workload with { Capacity = 0 }) : 0;
        Assert.Equal(model.CacheBytes + encoderState, model.KvCacheBytes(workload));
        // fp32 fixtures: the non-expert tensors of the checkpoint are what the model materialised (tied embeddings counted once).
        Assert.Equal(model.DenseBytes, DeviceFootprint.NonExpertWeightBytes(model.Experts));
    }

    [Fact]
    public void On_the_cpu_the_budget_bounds_the_cached_experts_only()
    {
        Fixtures.Cpu();
        using var model = MoeModels.Load(Fixtures.Folder("mixtral"));
        Assert.Equal(0, DeviceFootprint.Of(model, new Workload(4, 32, 64)).Total);
    }

    [Fact]
    [Trait("Category", "GPU")]
    public void On_the_gpu_the_measured_peak_stays_within_the_budget()
    {
        Fixtures.Cpu();
        Assert.SkipUnless(cuda.is_available(), "no CUDA device");
        var device = new Device(DeviceType.CUDA, 0);
        string folder = Fixtures.Folder("qwen2_moe");
        var workload = new Workload(2, 8, 40);
        // What the process holds on the device before the model (the CUDA context and libtorch's own), measured by the driver.
        using var context = Toolkit.Runtime.Cuda.CudaDriver.Open().RetainPrimaryContext(0);
        using (var init = ones(1, device: device)) init.add_(1).cpu().Dispose();
        long Used() { var (free, total) = context.MemoryInfo(); return total - free; }
        long baseline = Used();
        long budget;
        {
            using var probe = MoeModels.Load(folder, new ModelLoadOptions { Device = device, DType = ScalarType.BFloat16 });
            budget = DeviceFootprint.Of(probe, workload).Total + 4 * probe.Experts.ExpertBytes(probe.Experts.MoeLayers[0]) + (1 << 20);
        }
        using var offloaded = OffloadedModel.Load(folder, new ModelLoadOptions { Device = device, DType = ScalarType.BFloat16 },
            new OffloadOptions(PolicySpec.Default, MemoryBudget.Bytes(budget)), workload, new OffloadServices { MeasureDeviceBytes = () => Used() - baseline });
        Generation.Generate(offloaded.Model, [[1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14, 15, 16]], new GenerationOptions { MaxNewTokens = 32, StopTokens = [] }, TestContext.Current.CancellationToken);
        offloaded.Provider.Finish();
        var stats = offloaded.Provider.Stats!;
        Assert.True(stats.PeakMeasuredDeviceBytes <= budget, $"peak {stats.PeakMeasuredDeviceBytes} above the budget {budget}");
    }
}
