using Toolkit.Runtime.Safetensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Toolkit.Runtime.Tests.Safetensors;

public class CheckpointTests
{
    static List<KeyValuePair<string, Tensor>> Model() =>
    [
        new("embed.weight", torch.arange(64, ScalarType.Float32).reshape(8, 8).to(ScalarType.BFloat16)),
        new("layers.0.w", torch.arange(32, ScalarType.Float32).reshape(4, 8)),
        new("layers.0.b", torch.arange(8, ScalarType.Float32).to(ScalarType.Float16)),
        new("layers.1.w", torch.arange(32, ScalarType.Float32).reshape(8, 4) * -1),
        new("head.bias", torch.zeros(3, ScalarType.Int64)),
    ];

    [Fact]
    public void Sharded_write_and_read_resolve_every_tensor_to_its_shard()
    {
        using var scope = torch.NewDisposeScope();
        using var temp = new TempFolder();
        var model = Model();
        var result = SafetensorsWriter.WriteSharded(temp.Path, model, maxShardBytes: 160, new Dictionary<string, string> { ["note"] = "x" });
        // Greedy in order, at most 160 bytes: [embed 128], [w0 128 + b0 16], [w1 128 + bias 24].
        Assert.Equal(3, result.Files.Count);
        Assert.NotNull(result.IndexPath);
        Assert.Equal(model.Sum(p => p.Value.NumberOfElements * p.Value.ElementSize), result.TotalBytes);
        Assert.All(result.Files, f => Assert.Matches(@"model-0000\d-of-00003\.safetensors$", f));

        foreach (string source in new[] { temp.Path, result.IndexPath! })
        {
            using var checkpoint = SafetensorsCheckpoint.Open(source);
            Assert.Equal(3, checkpoint.Shards.Count);
            Assert.Equal(result.TotalBytes.ToString(), checkpoint.Metadata["total_size"]);
            Assert.Equal(model.Select(p => p.Key).Order(StringComparer.Ordinal), checkpoint.Names.Order(StringComparer.Ordinal));
            foreach (var (name, tensor) in model)
            {
                Assert.True(checkpoint.Contains(name));
                Assert.True(RoundTripTests.Same(checkpoint.Load(name), tensor));
                var info = checkpoint.Info(name);
                Assert.Same(checkpoint.FileOf(name).Tensors[name], info);
                Assert.Equal(tensor.bytes.ToArray(), checkpoint.GetBytes(name).ToArray());
                unsafe { Assert.True(checkpoint.GetPointer(name) == checkpoint.FileOf(name).GetPointer(name)); }
            }
            Assert.Equal("x", checkpoint.FileOf("head.bias").Metadata["note"]);
            Assert.Equal("pt", checkpoint.FileOf("head.bias").Metadata["format"]);
            Assert.Equal("model-00001-of-00003.safetensors", Path.GetFileName(checkpoint.Info("embed.weight").FilePath));
            Assert.Equal("model-00002-of-00003.safetensors", Path.GetFileName(checkpoint.Info("layers.0.b").FilePath));
            Assert.Equal("model-00003-of-00003.safetensors", Path.GetFileName(checkpoint.Info("layers.1.w").FilePath));
            var e = Assert.Throws<SafetensorsFormatException>(() => checkpoint.Info("missing"));
            Assert.Contains("'missing'", e.Message);
            Assert.False(checkpoint.Contains("missing"));
        }
    }

    [Fact]
    public void One_shard_is_written_as_model_safetensors_and_a_stale_index_is_removed()
    {
        using var scope = torch.NewDisposeScope();
        using var temp = new TempFolder();
        var model = Model();
        SafetensorsWriter.WriteSharded(temp.Path, model, maxShardBytes: 100);
        Assert.True(File.Exists(temp.File(SafetensorsCheckpoint.IndexFileName)));
        Assert.True(File.Exists(temp.File("model-00005-of-00005.safetensors"))); // 128 | 128 | 16 | 128 | 24 bytes
        File.WriteAllText(temp.File("other.safetensors"), "not ours");
        var result = SafetensorsWriter.WriteSharded(temp.Path, model, maxShardBytes: 1 << 20);
        Assert.Null(result.IndexPath);
        Assert.Equal(["model.safetensors", "other.safetensors"], Directory.GetFiles(temp.Path).Select(Path.GetFileName).Order());
        Assert.Equal([temp.File("model.safetensors")], result.Files);
        Assert.False(File.Exists(temp.File(SafetensorsCheckpoint.IndexFileName)));
        using var checkpoint = SafetensorsCheckpoint.Open(temp.Path);
        Assert.Null(checkpoint.IndexPath);
        Assert.Single(checkpoint.Shards);
        Assert.Equal(model.Count, checkpoint.Names.Count);
        using var direct = SafetensorsCheckpoint.Open(temp.File("model.safetensors"));
        Assert.Equal(checkpoint.Names.Order(), direct.Names.Order());
    }

    static (TempFolder Temp, string Index) ShardedFolder()
    {
        var temp = new TempFolder();
        SafetensorsWriter.WriteShardedRaw(temp.Path,
        [
            new RawTensor("a", SafetensorsDType.U8, [4], new byte[] { 1, 2, 3, 4 }),
            new RawTensor("b", SafetensorsDType.U8, [4], new byte[] { 5, 6, 7, 8 }),
        ], maxShardBytes: 4);
        return (temp, temp.File(SafetensorsCheckpoint.IndexFileName));
    }

    static SafetensorsFormatException RejectsIndex(string indexJson, string? tensor, string fragment)
    {
        var (temp, index) = ShardedFolder();
        using (temp)
        {
            File.WriteAllText(index, indexJson);
            var e = Assert.Throws<SafetensorsFormatException>(() => SafetensorsCheckpoint.Open(temp.Path).Dispose());
            Assert.Contains(index, e.Message);
            Assert.Equal(tensor, e.TensorName);
            Assert.Contains(fragment, e.Message);
            return e;
        }
    }

    [Fact]
    public void Weight_map_naming_a_missing_shard_is_an_error() =>
        RejectsIndex("""{"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00009-of-00009.safetensors"}}""", "b", "'model-00009-of-00009.safetensors', which does not exist");

    [Fact]
    public void Weight_map_naming_a_tensor_its_shard_lacks_is_an_error() =>
        RejectsIndex("""{"weight_map":{"a":"model-00002-of-00002.safetensors"}}""", "a", "holds no tensor of this name");

    [Theory]
    [InlineData("""{"weight_map":""", null, "not valid JSON")]
    [InlineData("""[]""", null, "expected an object")]
    [InlineData("""{"metadata":{}}""", null, "no 'weight_map'")]
    [InlineData("""{"weight_map":[]}""", null, "no 'weight_map'")]
    [InlineData("""{"weight_map":{},"weight_map":{}}""", null, "twice")]
    [InlineData("""{"weight_map":{"a":"model-00001-of-00002.safetensors","a":"model-00001-of-00002.safetensors"}}""", "a", "twice")]
    [InlineData("""{"weight_map":{"a":1}}""", "a", "expected a shard file name")]
    [InlineData("""{"weight_map":{"a":"../model-00001-of-00002.safetensors"}}""", "a", "not a plain file name")]
    [InlineData("""{"weight_map":{"a":"/etc/passwd"}}""", "a", "not a plain file name")]
    [InlineData("""{"weight_map":{"a":""}}""", "a", "not a plain file name")]
    [InlineData("""{"metadata":{"k":1,"k":2},"weight_map":{}}""", null, "twice")]
    public void Malformed_indexes_are_errors(string json, string? tensor, string fragment) => RejectsIndex(json, tensor, fragment);

    [Fact]
    public void A_corrupt_shard_is_reported_with_its_own_path()
    {
        var (temp, _) = ShardedFolder();
        using (temp)
        {
            string shard = temp.File("model-00002-of-00002.safetensors");
            var bytes = File.ReadAllBytes(shard);
            File.WriteAllBytes(shard, bytes[..^1]);
            var e = Assert.Throws<SafetensorsFormatException>(() => SafetensorsCheckpoint.Open(temp.Path).Dispose());
            Assert.Equal(shard, e.FilePath);
            Assert.Equal("b", e.TensorName);
        }
    }

    [Fact]
    public void Folders_without_a_checkpoint_and_missing_paths_are_file_not_found()
    {
        using var temp = new TempFolder();
        var e = Assert.Throws<FileNotFoundException>(() => SafetensorsCheckpoint.Open(temp.Path));
        Assert.Contains(SafetensorsCheckpoint.IndexFileName, e.Message);
        Assert.Throws<FileNotFoundException>(() => SafetensorsCheckpoint.Open(temp.File("nothing.safetensors")));
    }

    [Fact]
    public void Disposing_the_checkpoint_closes_every_shard()
    {
        var (temp, _) = ShardedFolder();
        using (temp)
        {
            var checkpoint = SafetensorsCheckpoint.Open(temp.Path);
            Assert.Equal([5, 6, 7, 8], checkpoint.GetBytes("b").ToArray());
            checkpoint.Dispose();
            Assert.Throws<ObjectDisposedException>(() => checkpoint.GetBytes("b").ToArray());
        }
    }

    [Fact]
    [Trait("Category", "GPU")]
    public void Load_onto_cuda_keeps_values()
    {
        Assert.SkipUnless(torch.cuda.is_available(), "No CUDA device.");
        using var scope = torch.NewDisposeScope();
        using var temp = new TempFolder();
        var model = Model();
        SafetensorsWriter.WriteSharded(temp.Path, model, maxShardBytes: 160);
        using var checkpoint = SafetensorsCheckpoint.Open(temp.Path);
        foreach (var (name, tensor) in model)
        {
            var gpu = checkpoint.Load(name, torch.CUDA, ScalarType.Float32);
            Assert.Equal(DeviceType.CUDA, gpu.device_type);
            Assert.True(RoundTripTests.Same(gpu.cpu(), tensor.to(ScalarType.Float32)));
        }
    }
}
