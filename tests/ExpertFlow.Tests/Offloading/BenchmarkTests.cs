using ExpertFlow.Offloading.Policies;
using System.Text.Json;
using ExpertFlow.Offloading;
using ExpertFlow.Evaluation;
using Toolkit.Runtime;
using static TorchSharp.torch;

namespace ExpertFlow.Tests.Offloading;

/// <summary>The benchmark pipeline end to end on a tiny synthetic Qwen2-MoE, on the CPU.</summary>
public sealed class BenchmarkTests : IDisposable
{
    readonly string folder = Path.Combine(Path.GetTempPath(), "ef-offload-bench-" + Guid.NewGuid().ToString("N"));

    public BenchmarkTests() => LibTorch.EnsureLoaded();

    [Fact]
    public void Sweep_on_a_synthetic_checkpoint_agrees_with_the_resident_model_and_writes_a_report()
    {
        var shape = Qwen2MoeShape.Tiny;
        string model = SyntheticMoe.Write(Path.Combine(folder, "model"), shape);
        // The checkpoint's experts are exactly the random source's.
        using (var checkpoint = Toolkit.Runtime.Safetensors.SafetensorsCheckpoint.Open(model))
        {
            var expected = new byte[SyntheticMoe.ExpertLayoutOf(shape).BytesPerExpert];
            SyntheticMoe.ExpertSource(shape).Read(new ExpertKey(2, 5), expected);
            var layout = SyntheticMoe.ExpertLayoutOf(shape);
            var fromFile = new CheckpointExpertSource(checkpoint, layout, SyntheticMoe.ExpertName);
            var actual = new byte[expected.Length];
            fromFile.Read(new ExpertKey(2, 5), actual);
            Assert.Equal(expected, actual);
        }
        long perExpert = SyntheticMoe.ExpertLayoutOf(shape).BytesPerExpert;
        var bench = new OffloadBenchmark(model, CPU) { PromptTokens = 6, NewTokens = 4, WarmUp = false };
        var results = bench.Run([
            new BenchCase(PolicySpec.Parse("on-demand"), 2 * perExpert, 2),
            new BenchCase(PolicySpec.Default, 8 * perExpert, 2),
            new BenchCase(PolicySpec.Parse("next-layer"), 8 * perExpert, 2),
        ]);
        Assert.All(results, r => Assert.Null(r.Error));
        Assert.All(results, r => Assert.True(r.SameIdsAsReference, $"{r.Case.Label}: ids differ"));
        Assert.All(results, r => Assert.Equal(1 + 3, r.Stats!.Steps));
        Assert.Equal(0, results[0].Stats!.Hits);

        string report = Path.Combine(folder, "report");
        OffloadBenchmark.WriteReport(report, results, "test", "expertflow bench ...", "CPU");
        Assert.True(File.Exists(Path.Combine(report, "report.md")));
        Assert.True(new FileInfo(Path.Combine(report, "hit-ratio-batch2.png")).Length > 1000);
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(report, "results.json")));
        Assert.Equal(3, json.RootElement.GetArrayLength());
        var written = OffloadBenchmarkPlots.FromResults(Path.Combine(report, "results.json"), Path.Combine(folder, "replot"));
        Assert.Equal(2, written.Count);
    }

    [Fact]
    public void Stats_json_holds_the_per_layer_hit_ratio_and_the_budget_split()
    {
        using var model = new ToyMoe();
        using var offloaded = OffloadedExperts.Create(model.Source, CPU, DeviceFootprint.None, new OffloadOptions(PolicySpec.Default, MemoryBudget.Bytes(5 * model.Layout.BytesPerExpert), HostTier.Arena));
        model.Generate([1, 2], 3, offloaded.Engine);
        string path = Path.Combine(folder, "stats.json");
        Directory.CreateDirectory(folder);
        OffloadReport.WriteJson(path, offloaded.Stats);
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var root = doc.RootElement;
        Assert.Equal("lru", root.GetProperty("policy").GetString());
        Assert.Equal(5, root.GetProperty("slots").GetInt32());
        Assert.True(root.GetProperty("within_budget").GetBoolean());
        Assert.Equal(3, root.GetProperty("hit_ratio_per_layer").GetArrayLength());
        Assert.Equal(offloaded.Stats.Requests, root.GetProperty("requests").GetInt64());
        Assert.Equal(3, root.GetProperty("steps").GetInt32());
    }

    public void Dispose()
    {
        try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
    }
}
