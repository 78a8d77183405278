using ExpertFlow.Offloading.Policies;
using ExpertFlow.Offloading;
using Toolkit.Runtime;
using Toolkit.Runtime.Safetensors;
using static TorchSharp.torch;

namespace ExpertFlow.Tests.Offloading;

/// <summary>Experts read from a safetensors checkpoint written with the toolkit's writer.</summary>
public sealed class CheckpointSourceTests : IDisposable
{
    readonly string folder = Path.Combine(Path.GetTempPath(), "ef-offload-" + Guid.NewGuid().ToString("N"));

    public CheckpointSourceTests()
    {
        LibTorch.EnsureLoaded();
        Directory.CreateDirectory(folder);
    }

    static string Name(ExpertKey k, string part) => $"model.layers.{k.Layer}.mlp.experts.{k.Expert}.{part}.weight";

    void Save(ToyMoe model)
    {
        var tensors = new List<KeyValuePair<string, Tensor>>();
        for (int l = 0; l < model.Layers; l++)
            for (int e = 0; e < model.Experts; e++)
                foreach (var p in new[] { "gate_proj", "up_proj", "down_proj" })
                    tensors.Add(new(Name(new ExpertKey(l, e), p), model.ExpertPartTensor(l, e, p)));
        SafetensorsWriter.WriteSharded(folder, tensors, maxShardBytes: 20_000);
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void Disk_tier_from_a_sharded_checkpoint_reproduces_the_reference(ScalarType dtype)
    {
        using var model = new ToyMoe();
        Save(model);
        using var checkpoint = SafetensorsCheckpoint.Open(folder);
        var layout = CheckpointExpertSource.LayoutFrom(checkpoint, [0, 1, 2], model.Experts, ["gate_proj", "up_proj", "down_proj"], Name, dtype);
        var source = new CheckpointExpertSource(checkpoint, layout, Name);
        using var offloaded = OffloadedExperts.Create(source, CPU, DeviceFootprint.None, new OffloadOptions(PolicySpec.Default, MemoryBudget.Bytes(4 * layout.BytesPerExpert), HostTier.Disk));
        Assert.Equal("disk", offloaded.HostTierName);
        long[] start = [2, 11];
        if (dtype == ScalarType.Float32)
        {
            var (expected, _) = model.Generate(start, 4, null);
            var (actual, _) = model.Generate(start, 4, offloaded.Engine);
            Assert.True((expected == actual).all().item<bool>());
        }
        else
        {
            // Converted while reading: the slot holds exactly the bf16 rounding of the fp32 weights.
            var parts = offloaded.Engine.Get(1, 3);
            Assert.True((parts[2] == model.ExpertPartTensor(1, 3, "down_proj").to(ScalarType.BFloat16)).all().item<bool>());
        }
    }

    [Fact]
    public void A_missing_expert_tensor_is_named()
    {
        using var model = new ToyMoe();
        Save(model);
        using var checkpoint = SafetensorsCheckpoint.Open(folder);
        var layout = CheckpointExpertSource.LayoutFrom(checkpoint, [0, 1, 2], model.Experts + 1, ["gate_proj", "up_proj", "down_proj"], Name, ScalarType.Float32);
        var e = Assert.Throws<InvalidDataException>(() => new CheckpointExpertSource(checkpoint, layout, Name));
        Assert.Contains("model.layers.0.mlp.experts.8.gate_proj.weight", e.Message);
    }

    public void Dispose()
    {
        try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
    }
}
