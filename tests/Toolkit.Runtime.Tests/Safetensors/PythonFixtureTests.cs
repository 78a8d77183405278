using System.Security.Cryptography;
using System.Text.Json;
using Toolkit.Runtime.Safetensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Toolkit.Runtime.Tests.Safetensors;

/// <summary>
/// Files written by Python's safetensors 0.8.0 / torch 2.11 (and huggingface_hub's sharded writer) on the
/// GPU machine by tests/fixtures/python/make_safetensors_fixtures.py, with the values it recorded.
/// </summary>
public class PythonFixtureTests
{
    static readonly string Fixtures = Path.Combine(AppContext.BaseDirectory, "fixtures", "safetensors");

    static JsonElement Expected(string part)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Fixtures, "expected.json")));
        return document.RootElement.GetProperty(part).Clone();
    }

    static double[] Values(JsonElement entry) => entry.GetProperty("values").EnumerateArray().Select(v => v.GetDouble()).ToArray();
    static long[] Shape(JsonElement entry) => entry.GetProperty("shape").EnumerateArray().Select(v => v.GetInt64()).ToArray();

    static double[] LoadedValues(Tensor t)
    {
        using var f64 = t.to(ScalarType.Float64).contiguous();
        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(f64.bytes).ToArray(); // data<T>() fails on 0-dim tensors
    }

    [Fact]
    public void Reads_every_dtype_written_by_python()
    {
        var expected = Expected("dtypes");
        using var file = SafetensorsFile.Open(Path.Combine(Fixtures, "dtypes.safetensors"));
        foreach (var meta in expected.GetProperty("metadata").EnumerateObject())
            Assert.Equal(meta.Value.GetString(), file.Metadata[meta.Name]);

        var tensors = expected.GetProperty("tensors").EnumerateObject().ToList();
        Assert.Equal(tensors.Select(t => t.Name).Order(StringComparer.Ordinal), file.Names.Order(StringComparer.Ordinal));
        Assert.Equal(12, tensors.Select(t => t.Value.GetProperty("dtype").GetString()).Distinct().Count()); // all dtypes present
        foreach (var (name, entry) in tensors.Select(t => (t.Name, t.Value)))
        {
            var info = file.Info(name);
            Assert.Equal(entry.GetProperty("dtype").GetString(), info.DType.HeaderName());
            Assert.Equal(Shape(entry), info.Shape);
            Assert.Equal(entry.GetProperty("hex").GetString(), Convert.ToHexStringLower(file.GetBytes(name)));
            if (info.DType.IsRawOnly())
            {
                // FP8 is raw bytes for TorchSharp; decoding them here checks the E4M3/E5M2 naming matches PyTorch's.
                var decode = info.DType == SafetensorsDType.F8_E4M3 ? (Func<byte, double>)Fp8.DecodeE4M3Fn : Fp8.DecodeE5M2;
                Assert.Equal(Values(entry), file.GetBytes(name).ToArray().Select(decode).ToArray());
            }
            else
            {
                using var loaded = file.Load(name);
                Assert.Equal(info.DType.ToScalarType(), loaded.dtype);
                Assert.Equal(Shape(entry), loaded.shape);
                Assert.Equal(Values(entry), LoadedValues(loaded));
            }
        }
    }

    [Fact]
    public void Reads_a_sharded_checkpoint_written_by_huggingface_hub()
    {
        var expected = Expected("sharded");
        using var checkpoint = SafetensorsCheckpoint.Open(Path.Combine(Fixtures, "sharded"));
        Assert.NotNull(checkpoint.IndexPath);
        Assert.Equal(2, checkpoint.Shards.Count);
        long total = 0;
        foreach (var (name, entry) in expected.GetProperty("tensors").EnumerateObject().Select(t => (t.Name, t.Value)))
        {
            Assert.True(checkpoint.Contains(name));
            var info = checkpoint.Info(name);
            Assert.Equal(entry.GetProperty("shard").GetString(), Path.GetFileName(info.FilePath));
            Assert.Equal(entry.GetProperty("dtype").GetString(), info.DType.HeaderName());
            Assert.Equal(entry.GetProperty("hex").GetString(), Convert.ToHexStringLower(checkpoint.GetBytes(name)));
            using var loaded = checkpoint.Load(name, torch.CPU, ScalarType.Float32);
            Assert.Equal(ScalarType.Float32, loaded.dtype);
            Assert.Equal(Values(entry), LoadedValues(loaded));
            // The absolute FileOffset reaches the same bytes with an ordinary file read (disk-tier path).
            using var stream = File.OpenRead(info.FilePath);
            stream.Position = info.FileOffset;
            var buffer = new byte[info.ByteLength];
            stream.ReadExactly(buffer);
            Assert.Equal(checkpoint.GetBytes(name).ToArray(), buffer);
            total += info.ByteLength;
        }
        Assert.Equal(total.ToString(), checkpoint.Metadata["total_size"]);
        Assert.Equal("pt", checkpoint.Shards[0].Metadata["format"]);
    }

    [Fact]
    public void Python_accepted_the_bytes_our_writer_produces()
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Fixtures, "dotnet_check.json")));
        var report = document.RootElement;
        Assert.True(report.GetProperty("ok").GetBoolean(), report.GetProperty("problems").GetRawText());
        var checkedItems = report.GetProperty("checked").EnumerateArray().ToList();

        using var temp = new TempFolder();
        DotnetWrittenSample.Write(temp.Path);
        // The writer must still produce exactly the bytes that Python's safetensors loaded and verified.
        Assert.Equal(checkedItems[0].GetProperty("sha256").GetString(), Sha256(temp.File(DotnetWrittenSample.FileName)));
        foreach (var file in checkedItems[1].GetProperty("sha256").EnumerateObject())
            Assert.Equal(file.Value.GetString(), Sha256(Path.Combine(temp.Path, DotnetWrittenSample.ShardedFolder, file.Name)));

        // And our reader agrees with what the sample meant to write.
        using var written = SafetensorsFile.Open(temp.File(DotnetWrittenSample.FileName));
        foreach (var (tensor, values) in DotnetWrittenSample.Tensors())
        {
            Assert.Equal(tensor.Data.ToArray(), written.GetBytes(tensor.Name).ToArray());
            if (!tensor.DType.IsRawOnly() && values is not null)
            {
                using var loaded = written.Load(tensor.Name);
                Assert.Equal(values, LoadedValues(loaded));
            }
        }
    }

    static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
}

/// <summary>Reference decoders for the two FP8 formats (used only to check fixtures).</summary>
static class Fp8
{
    /// <summary>E4M3 "fn": bias 7, no infinities, 0x7F/0xFF are NaN.</summary>
    public static double DecodeE4M3Fn(byte b) => Decode(b, exponentBits: 4, mantissaBits: 3, bias: 7, ieeeSpecials: false);

    /// <summary>E5M2: bias 15, IEEE-style infinities and NaNs.</summary>
    public static double DecodeE5M2(byte b) => Decode(b, exponentBits: 5, mantissaBits: 2, bias: 15, ieeeSpecials: true);

    static double Decode(byte b, int exponentBits, int mantissaBits, int bias, bool ieeeSpecials)
    {
        int sign = b >> 7;
        int exponent = (b >> mantissaBits) & ((1 << exponentBits) - 1);
        int mantissa = b & ((1 << mantissaBits) - 1);
        int maxExponent = (1 << exponentBits) - 1;
        double value;
        if (ieeeSpecials && exponent == maxExponent) value = mantissa == 0 ? double.PositiveInfinity : double.NaN;
        else if (!ieeeSpecials && exponent == maxExponent && mantissa == (1 << mantissaBits) - 1) value = double.NaN;
        else if (exponent == 0) value = mantissa / (double)(1 << mantissaBits) * Math.Pow(2, 1 - bias);
        else value = (1 + mantissa / (double)(1 << mantissaBits)) * Math.Pow(2, exponent - bias);
        return sign == 1 ? -value : value;
    }
}
