using System.Text.Json;
using System.Text.Json.Nodes;
using Toolkit.Runtime.Safetensors;

namespace Toolkit.Runtime.Tests.Safetensors;

/// <summary>
/// A deterministic set of files written by our writer (one file with every dtype, one sharded folder) and a
/// JSON of what they hold. tests/fixtures/python/make_safetensors_fixtures.py --check-dotnet loaded them with
/// Python's safetensors on the GPU machine; its verdict and the files' SHA-256 are in
/// tests/fixtures/safetensors/dotnet_check.json, and a test checks the writer still produces those bytes.
/// </summary>
public static class DotnetWrittenSample
{
    public const string FileName = "dotnet_written.safetensors";
    public const string ShardedFolder = "dotnet_sharded";
    public const long ShardBytes = 40;

    public static readonly Dictionary<string, string> Metadata = new() { ["writer"] = "Toolkit.Runtime.Safetensors", ["ünï"] = "✓" };

    static readonly double[] Quarters = [-0.75, -0.5, -0.25, 0, 0.25, 0.5];

    /// <summary>(tensor, values as float64 or null) for every dtype.</summary>
    public static List<(RawTensor Tensor, double[]? Values)> Tensors() =>
    [
        (Raw("f64", SafetensorsDType.F64, [2, 3], Quarters, (w, v) => w.Write(v)), Quarters),
        (Raw("f32", SafetensorsDType.F32, [2, 3], Quarters, (w, v) => w.Write((float)v)), Quarters),
        (Raw("f16", SafetensorsDType.F16, [3], Quarters[..3], (w, v) => w.Write((Half)v)), Quarters[..3]),
        (Raw("bf16", SafetensorsDType.BF16, [2, 3], Quarters, (w, v) => w.Write((ushort)(BitConverter.SingleToUInt32Bits((float)v) >> 16))), Quarters),
        (Raw("i64", SafetensorsDType.I64, [3], [-(double)(1L << 40), 0, (1L << 40) + 7], (w, v) => w.Write((long)v)), [-(double)(1L << 40), 0, (1L << 40) + 7]),
        (Raw("i32", SafetensorsDType.I32, [2, 2], [-7, 0, 7, int.MaxValue], (w, v) => w.Write((int)v)), [-7, 0, 7, int.MaxValue]),
        (Raw("i16", SafetensorsDType.I16, [3], [-32768, 1, 32767], (w, v) => w.Write((short)v)), [-32768, 1, 32767]),
        (Raw("i8", SafetensorsDType.I8, [3], [-128, 0, 127], (w, v) => w.Write((sbyte)v)), [-128, 0, 127]),
        (Raw("u8", SafetensorsDType.U8, [3], [0, 128, 255], (w, v) => w.Write((byte)v)), [0, 128, 255]),
        (Raw("bool", SafetensorsDType.BOOL, [4], [1, 0, 1, 1], (w, v) => w.Write((byte)v)), [1, 0, 1, 1]),
        // FP8 bit patterns with known values: e4m3fn 0x38 = 1, 0xB8 = -1, 0x7E = 448 (max); e5m2 0x3C = 1, 0xC0 = -2, 0x7B = 57344 (max), 0x01 = 2^-16.
        (new RawTensor("f8_e4m3", SafetensorsDType.F8_E4M3, [4], new byte[] { 0x00, 0x38, 0xB8, 0x7E }), [0, 1, -1, 448]),
        (new RawTensor("f8_e5m2", SafetensorsDType.F8_E5M2, [2, 2], new byte[] { 0x3C, 0xC0, 0x7B, 0x01 }), [1, -2, 57344, Math.Pow(2, -16)]),
        (Raw("scalar", SafetensorsDType.F32, [], [2.5], (w, v) => w.Write((float)v)), [2.5]),
        (new RawTensor("empty", SafetensorsDType.F16, [0, 4], Array.Empty<byte>()), []),
    ];

    public static List<RawTensor> ShardedTensors() =>
    [
        Raw("a", SafetensorsDType.F32, [8], Enumerable.Range(0, 8).Select(i => i * 1.5).ToArray(), (w, v) => w.Write((float)v)),
        Raw("b", SafetensorsDType.BF16, [8], Enumerable.Range(0, 8).Select(i => -i * 0.5).ToArray(), (w, v) => w.Write((ushort)(BitConverter.SingleToUInt32Bits((float)v) >> 16))),
        Raw("c", SafetensorsDType.I64, [4], [1, -2, 3, -4], (w, v) => w.Write((long)v)),
    ];

    static RawTensor Raw(string name, SafetensorsDType dtype, long[] shape, double[] values, Action<BinaryWriter, double> write)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer)) foreach (double v in values) write(writer, v);
        return new RawTensor(name, dtype, shape, buffer.ToArray());
    }

    /// <summary>Writes the file, the sharded folder and dotnet_expected.json into a folder.</summary>
    public static void Write(string folder)
    {
        var tensors = Tensors();
        SafetensorsWriter.WriteRaw(Path.Combine(folder, FileName), tensors.Select(t => t.Tensor), Metadata);
        var sharded = ShardedTensors();
        SafetensorsWriter.WriteShardedRaw(Path.Combine(folder, ShardedFolder), sharded, ShardBytes);

        var fileTensors = new JsonObject();
        foreach (var (t, values) in tensors)
        {
            var entry = Describe(t);
            if (values is not null) entry["values"] = new JsonArray(values.Select(v => (JsonNode)JsonValue.Create(v)).ToArray());
            fileTensors[t.Name] = entry;
        }
        var shardTensors = new JsonObject();
        foreach (var t in sharded) shardTensors[t.Name] = Describe(t);
        var root = new JsonObject
        {
            ["files"] = new JsonArray(new JsonObject
            {
                ["file"] = FileName,
                ["metadata"] = new JsonObject(Metadata.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)JsonValue.Create(p.Value)))),
                ["tensors"] = fileTensors,
            }),
            ["sharded"] = new JsonArray(new JsonObject { ["folder"] = ShardedFolder, ["tensors"] = shardTensors }),
        };
        File.WriteAllText(Path.Combine(folder, "dotnet_expected.json"), root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    static JsonObject Describe(RawTensor t) => new()
    {
        ["dtype"] = t.DType.HeaderName(),
        ["shape"] = new JsonArray(t.Shape.Select(d => (JsonNode)JsonValue.Create(d)).ToArray()),
        ["hex"] = Convert.ToHexStringLower(t.Data.Span),
    };
}
