using System.Buffers.Binary;
using Toolkit.Runtime.Safetensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Toolkit.Runtime.Tests.Safetensors;

public class RoundTripTests
{
    public static TheoryData<string, long[]> DTypesAndShapes()
    {
        var data = new TheoryData<string, long[]>();
        foreach (var dtype in new[] { "F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL" })
            foreach (var shape in new long[][] { [], [0], [7], [2, 3], [3, 0, 2], [2, 3, 4], [1, 1, 1, 5] })
                data.Add(dtype, shape);
        return data;
    }

    /// <summary>Same dtype, shape and bytes (bit-exact, NaN-safe).</summary>
    internal static bool Same(Tensor a, Tensor b) =>
        a.dtype == b.dtype && a.shape.SequenceEqual(b.shape) && a.contiguous().bytes.SequenceEqual(b.contiguous().bytes);

    static Tensor Sample(ScalarType type, long[] shape, int seed)
    {
        var generator = new torch.Generator((ulong)seed);
        var values = torch.randn(shape, ScalarType.Float64, generator: generator) * 50;
        return type switch
        {
            ScalarType.Bool => values.gt(0),
            ScalarType.Byte => values.abs().to(type),
            _ => values.to(type),
        };
    }

    [Theory]
    [MemberData(nameof(DTypesAndShapes))]
    public void TorchSharp_tensors_round_trip_bit_exactly(string dtypeName, long[] shape)
    {
        Assert.True(SafetensorsDTypes.TryParse(dtypeName, out var dtype));
        var scalar = dtype.ToScalarType()!.Value;
        using var scope = torch.NewDisposeScope();
        using var temp = new TempFolder();
        var a = Sample(scalar, shape, 1);
        var b = Sample(scalar, [3], 2);
        string path = temp.File("t.safetensors");
        SafetensorsWriter.Write(path, [new("a", a), new("b", b)], new Dictionary<string, string> { ["format"] = "pt" });

        using var file = SafetensorsFile.Open(path);
        Assert.Equal("pt", file.Metadata["format"]);
        var info = file.Info("a");
        Assert.Equal(dtype, info.DType);
        Assert.Equal(shape, info.Shape);
        Assert.Equal(a.NumberOfElements * dtype.ElementSize(), info.ByteLength);
        Assert.Equal(a.bytes.ToArray(), file.GetBytes("a").ToArray());
        var loaded = file.Load("a");
        Assert.Equal(scalar, loaded.dtype);
        Assert.Equal(shape, loaded.shape);
        Assert.True(Same(loaded, a));
        Assert.True(Same(file.Load("b"), b));
    }

    [Fact]
    public void Raw_tensors_of_every_dtype_including_fp8_round_trip()
    {
        using var temp = new TempFolder();
        var rng = new Random(5);
        var raws = Enum.GetValues<SafetensorsDType>().Select((dtype, i) =>
        {
            long[] shape = i % 3 == 0 ? [] : i % 3 == 1 ? [i] : [2, i];
            var bytes = new byte[dtype.ElementSize() * shape.Aggregate(1L, (p, d) => p * d)];
            rng.NextBytes(bytes);
            if (dtype == SafetensorsDType.BOOL) for (int k = 0; k < bytes.Length; k++) bytes[k] &= 1;
            return new RawTensor($"t_{dtype}", dtype, shape, bytes);
        }).ToList();
        string path = temp.File("raw.safetensors");
        SafetensorsWriter.WriteRaw(path, raws);

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(raws.Count, file.Tensors.Count);
        Assert.Empty(file.Metadata);
        foreach (var raw in raws)
        {
            var info = file.Info(raw.Name);
            Assert.Equal(raw.DType, info.DType);
            Assert.Equal(raw.Shape, info.Shape);
            Assert.Equal(raw.Data.ToArray(), file.GetBytes(raw.Name).ToArray());
            Assert.Equal(0, info.FileOffset % raw.DType.ElementSize()); // aligned to the element size
            unsafe { Assert.Equal(raw.Data.Span[0 ..Math.Min(1, raw.Data.Length)].ToArray(), new ReadOnlySpan<byte>(file.GetPointer(raw.Name), Math.Min(1, raw.Data.Length)).ToArray()); }
            if (raw.DType.IsRawOnly())
                Assert.Throws<NotSupportedException>(() => file.Load(raw.Name));
            else
            {
                using var t = file.Load(raw.Name);
                Assert.Equal(raw.Data.ToArray(), t.bytes.ToArray());
            }
        }
    }

    [Fact]
    public void Header_is_padded_so_data_starts_at_a_multiple_of_8()
    {
        using var temp = new TempFolder();
        for (int nameLength = 1; nameLength < 12; nameLength++)
        {
            string path = temp.File($"pad{nameLength}.safetensors");
            SafetensorsWriter.WriteRaw(path, [new RawTensor(new string('x', nameLength), SafetensorsDType.F64, [1], new byte[8])]);
            byte[] bytes = File.ReadAllBytes(path);
            ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
            Assert.Equal(0UL, (8 + n) % 8);
            Assert.Equal(bytes.Length, 8 + (int)n + 8);
            using var file = SafetensorsFile.Open(path);
            Assert.Equal(8 + (long)n, file.DataStart);
        }
    }

    [Fact]
    public void Load_converts_dtype_and_keeps_values()
    {
        using var scope = torch.NewDisposeScope();
        using var temp = new TempFolder();
        var x = torch.linspace(-4, 4, 33, ScalarType.Float32).to(ScalarType.BFloat16);
        string path = temp.File("bf16.safetensors");
        SafetensorsWriter.Write(path, [new("x", x)]);
        using var file = SafetensorsFile.Open(path);
        var f32 = file.Load("x", torch.CPU, ScalarType.Float32);
        Assert.Equal(ScalarType.Float32, f32.dtype);
        Assert.True(Same(f32, x.to(ScalarType.Float32)));
        var same = file.Load("x", torch.CPU);
        Assert.Equal(ScalarType.BFloat16, same.dtype);
    }

    [Fact]
    public void LoadInto_fills_existing_tensors_and_parameters()
    {
        using var scope = torch.NewDisposeScope();
        using var temp = new TempFolder();
        var w = torch.randn(3, 4);
        string path = temp.File("w.safetensors");
        SafetensorsWriter.Write(path, [new("w", w)]);
        using var file = SafetensorsFile.Open(path);

        var same = torch.zeros(3, 4);
        file.LoadInto("w", same);
        Assert.True(Same(same, w));

        var parameter = new TorchSharp.Modules.Parameter(torch.zeros(3, 4, ScalarType.BFloat16));
        file.LoadInto("w", parameter);
        Assert.True(Same(parameter.detach(), w.to(ScalarType.BFloat16)));
        Assert.True(parameter.requires_grad);

        var strided = torch.zeros(4, 3).t();
        file.LoadInto("w", strided);
        Assert.True(Same(strided.contiguous(), w));

        var e = Assert.Throws<ArgumentException>(() => file.LoadInto("w", torch.zeros(4, 3)));
        Assert.Contains("'w'", e.Message);
        Assert.Contains("[3, 4]", e.Message);
    }

    [Fact]
    public void Non_contiguous_tensors_are_written_in_logical_order()
    {
        using var scope = torch.NewDisposeScope();
        using var temp = new TempFolder();
        var x = torch.arange(12, ScalarType.Int32).reshape(3, 4).t();
        Assert.False(x.is_contiguous());
        string path = temp.File("t.safetensors");
        SafetensorsWriter.Write(path, [new("x", x)]);
        using var file = SafetensorsFile.Open(path);
        Assert.True(Same(file.Load("x"), x));
        Assert.Equal([4L, 3L], file.Info("x").Shape);
    }

    [Fact]
    public void Empty_file_without_tensors_round_trips()
    {
        using var temp = new TempFolder();
        string path = temp.File("empty.safetensors");
        SafetensorsWriter.WriteRaw(path, [], new Dictionary<string, string> { ["k"] = "v", ["ünï"] = "cödé \"q\"" });
        using var file = SafetensorsFile.Open(path);
        Assert.Empty(file.Tensors);
        Assert.Equal("cödé \"q\"", file.Metadata["ünï"]);
    }

    [Fact]
    public void Writer_rejects_bad_input_before_touching_the_target()
    {
        using var temp = new TempFolder();
        string path = temp.File("x.safetensors");
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.WriteRaw(path, [new RawTensor("a", SafetensorsDType.F32, [2], new byte[7])]));
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.WriteRaw(path, [new RawTensor("a", SafetensorsDType.U8, [1], new byte[1]), new RawTensor("a", SafetensorsDType.U8, [1], new byte[1])]));
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.WriteRaw(path, [new RawTensor("__metadata__", SafetensorsDType.U8, [1], new byte[1])]));
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.WriteRaw(path, [new RawTensor("a", SafetensorsDType.U8, [-1], new byte[0])]));
        using (var c = torch.complex(torch.ones(2), torch.ones(2)))
            Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(path, [new("c", c)]));
        Assert.False(File.Exists(path));
        Assert.Empty(Directory.GetFiles(temp.Path));
    }

    [Fact]
    public void Writing_replaces_an_open_file_atomically()
    {
        using var temp = new TempFolder();
        string path = temp.File("x.safetensors");
        SafetensorsWriter.WriteRaw(path, [new RawTensor("a", SafetensorsDType.U8, [3], new byte[] { 1, 2, 3 })]);
        using var old = SafetensorsFile.Open(path);
        SafetensorsWriter.WriteRaw(path, [new RawTensor("b", SafetensorsDType.U8, [2], new byte[] { 9, 9 })]);
        Assert.Equal(new byte[] { 1, 2, 3 }, old.GetBytes("a").ToArray()); // the old mapping is untouched
        using var fresh = SafetensorsFile.Open(path);
        Assert.Equal(["b"], fresh.Names);
        Assert.Single(Directory.GetFiles(temp.Path));
    }

    [Fact]
    public void Disposed_file_refuses_access()
    {
        using var temp = new TempFolder();
        string path = temp.File("x.safetensors");
        SafetensorsWriter.WriteRaw(path, [new RawTensor("a", SafetensorsDType.U8, [1], new byte[] { 1 })]);
        var file = SafetensorsFile.Open(path);
        file.Dispose();
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => file.GetBytes("a").ToArray());
    }
}
