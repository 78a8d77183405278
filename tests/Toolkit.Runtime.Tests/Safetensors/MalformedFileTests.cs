using Toolkit.Runtime.Safetensors;

namespace Toolkit.Runtime.Tests.Safetensors;

public class MalformedFileTests
{
    const string Valid = """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}}""";

    const string AnyTensor = "\0any";

    static SafetensorsFormatException Rejects(byte[] bytes, string? tensor, params string[] fragments)
    {
        using var temp = new TempFolder();
        string path = Crafted.Write(temp, "bad.safetensors", bytes);
        var e = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.Contains(path, e.Message);
        Assert.Equal(path, e.FilePath);
        if (tensor != AnyTensor) Assert.Equal(tensor, e.TensorName);
        if (tensor is not null and not AnyTensor) Assert.Contains($"'{tensor}'", e.Message);
        foreach (var fragment in fragments) Assert.Contains(fragment, e.Message);
        return e;
    }

    static SafetensorsFile Accepts(TempFolder temp, byte[] bytes) => SafetensorsFile.Open(Crafted.Write(temp, "ok.safetensors", bytes));

    [Fact]
    public void The_valid_baseline_opens()
    {
        using var temp = new TempFolder();
        using var file = Accepts(temp, Crafted.Bytes(Valid, new byte[11]));
        Assert.Equal(["a", "b"], file.Names);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(7)]
    public void Files_shorter_than_the_prefix_are_rejected(int length) =>
        Rejects(new byte[length], null, "shorter than the 8-byte");

    [Fact]
    public void Header_length_past_the_end_is_rejected() =>
        Rejects(Crafted.Bytes(Valid, new byte[11], headerLength: (ulong)(Valid.Length + 12)), null, "truncated");

    [Theory]
    [InlineData(ulong.MaxValue)]
    [InlineData(1UL << 63)]
    [InlineData(100_000_001UL)]
    public void Absurd_header_lengths_are_rejected(ulong length) =>
        Rejects(Crafted.Bytes(Valid, new byte[11], headerLength: length), null, "allowed");

    [Theory]
    [InlineData(0UL)]
    [InlineData(1UL)]
    public void Header_lengths_below_two_are_rejected(ulong length) =>
        Rejects(Crafted.Bytes(Valid, new byte[11], headerLength: length), null, "at least");

    [Fact]
    public void Truncated_data_is_rejected()
    {
        var bytes = Crafted.Bytes(Valid, new byte[11]);
        Rejects(bytes[..^1], "b", "past the end");
    }

    [Theory]
    [InlineData("""{"a":""")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}""")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2,],"data_offsets":[0,8]}}""")]
    [InlineData("""{'a':1}""")]
    [InlineData("""{} x""")]
    [InlineData("""{}{}""")]
    [InlineData("""{/*c*/}""")]
    public void Invalid_json_is_rejected(string header) =>
        Rejects(Crafted.Bytes(header), AnyTensor, "JSON"); // names the tensor when the break is inside its entry

    [Theory]
    [InlineData("[]")]
    [InlineData("\"x\"")]
    [InlineData("12")]
    [InlineData(" {}")]
    public void Headers_that_are_not_objects_are_rejected(string header) =>
        Rejects(Crafted.Bytes(header), null, "does not start with '{'");

    [Fact]
    public void Invalid_utf8_is_rejected() =>
        Rejects(Crafted.Bytes([(byte)'{', (byte)'"', 0xC3, 0x28, (byte)'"', (byte)':', (byte)'1', (byte)'}']), null, "UTF-8");

    [Theory]
    [InlineData("""{"a":5}""", "expected an object")]
    [InlineData("""{"a":{"shape":[],"data_offsets":[0,0]}}""", "no 'dtype'")]
    [InlineData("""{"a":{"dtype":"F32","data_offsets":[0,0]}}""", "no 'shape'")]
    [InlineData("""{"a":{"dtype":"F32","shape":[0]}}""", "no 'data_offsets'")]
    [InlineData("""{"a":{"dtype":"F128","shape":[0],"data_offsets":[0,0]}}""", "unknown or unsupported dtype 'F128'")]
    [InlineData("""{"a":{"dtype":"f32","shape":[0],"data_offsets":[0,0]}}""", "unknown or unsupported dtype 'f32'")]
    [InlineData("""{"a":{"dtype":"1","shape":[0],"data_offsets":[0,0]}}""", "unknown or unsupported dtype '1'")]
    [InlineData("""{"a":{"dtype":7,"shape":[0],"data_offsets":[0,0]}}""", "expected a string")]
    [InlineData("""{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}""", "negative value -1")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,0]}}""", "expected integers")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1e30],"data_offsets":[0,0]}}""", "expected integers")]
    [InlineData("""{"a":{"dtype":"F32","shape":["2"],"data_offsets":[0,0]}}""", "expected integers")]
    [InlineData("""{"a":{"dtype":"F32","shape":2,"data_offsets":[0,0]}}""", "expected an array")]
    [InlineData("""{"a":{"dtype":"F32","shape":[0],"data_offsets":[0]}}""", "expected 2")]
    [InlineData("""{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0,0]}}""", "expected 2")]
    [InlineData("""{"a":{"dtype":"F32","shape":[0],"data_offsets":[-4,0]}}""", "negative value -4")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}""", "end before they begin")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", "past the end")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551615]}}""", "expected integers")]
    [InlineData("""{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}""", "overflows")]
    [InlineData("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,0]}}""", "is 12 bytes, but data_offsets [0, 0] span 0 bytes")]
    [InlineData("""{"a":{"dtype":"F32","dtype":"F32","shape":[0],"data_offsets":[0,0]}}""", "appears twice")]
    public void Bad_tensor_entries_are_rejected_naming_the_tensor(string header, string fragment) =>
        Rejects(Crafted.Bytes(header), "a", fragment);

    [Fact]
    public void Shape_and_byte_count_must_agree()
    {
        const string header = """{"a":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,8]}}""";
        Rejects(Crafted.Bytes(header, new byte[8]), "a", "[2, 3]", "BF16", "12 bytes", "span 8 bytes");
    }

    [Fact]
    public void Duplicate_tensor_names_are_rejected()
    {
        const string header = """{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}""";
        Rejects(Crafted.Bytes(header, new byte[2]), "a", "twice");
    }

    [Fact]
    public void Duplicate_names_written_with_escapes_are_still_duplicates()
    {
        const string header = """{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"\u0061":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}""";
        Rejects(Crafted.Bytes(header, new byte[2]), "a", "twice");
    }

    [Theory]
    [InlineData("""{"__metadata__":{},"__metadata__":{}}""", "twice")]
    [InlineData("""{"__metadata__":{"k":"a","k":"b"}}""", "'k' appears twice")]
    [InlineData("""{"__metadata__":{"k":1}}""", "must be strings")]
    [InlineData("""{"__metadata__":[]}""", "expected an object of strings")]
    public void Bad_metadata_is_rejected(string header, string fragment) =>
        Rejects(Crafted.Bytes(header), null, fragment);

    [Fact]
    public void Overlapping_tensors_are_rejected()
    {
        const string header = """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""";
        Rejects(Crafted.Bytes(header, new byte[12]), "b", "overlap tensor 'a'");
    }

    [Fact]
    public void Aliased_tensors_are_rejected()
    {
        const string header = """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""";
        Rejects(Crafted.Bytes(header, new byte[8]), "b", "overlap");
    }

    [Fact]
    public void Holes_between_tensors_are_rejected()
    {
        const string header = """{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""";
        Rejects(Crafted.Bytes(header, new byte[12]), "b", "hole");
    }

    [Fact]
    public void A_hole_at_the_start_is_rejected()
    {
        const string header = """{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""";
        Rejects(Crafted.Bytes(header, new byte[8]), "a", "hole");
    }

    [Fact]
    public void Unindexed_trailing_bytes_are_rejected()
    {
        Rejects(Crafted.Bytes(Valid, new byte[12]), "b", "1 unindexed trailing bytes");
        Rejects(Crafted.Bytes("{}", new byte[3]), null, "3 unindexed trailing bytes");
    }

    [Fact]
    public void Accepted_variations_of_the_format()
    {
        using var temp = new TempFolder();
        // Trailing spaces (the writer's padding), unknown fields, null metadata, zero-size tensors sharing an offset.
        const string header = """{"__metadata__":null,"z":{"dtype":"F64","shape":[0,5],"data_offsets":[0,0],"extra":{"x":[1,2]}},"y":{"dtype":"BOOL","shape":[],"data_offsets":[0,1]},"e":{"dtype":"I16","shape":[0],"data_offsets":[1,1]},"e2":{"dtype":"I16","shape":[0],"data_offsets":[1,1]}}      """;
        using var file = Accepts(temp, Crafted.Bytes(header, [1]));
        Assert.Empty(file.Metadata);
        Assert.Equal(4, file.Tensors.Count);
        Assert.Equal(0, file.GetBytes("z").Length);
        Assert.Equal([1], file.GetBytes("y").ToArray());
        using var scalar = file.Load("y");
        Assert.True(scalar.item<bool>());
    }

    [Fact]
    public void Missing_tensor_names_file_and_tensor()
    {
        using var temp = new TempFolder();
        using var file = Accepts(temp, Crafted.Bytes(Valid, new byte[11]));
        var e = Assert.Throws<SafetensorsFormatException>(() => file.Info("nope"));
        Assert.Contains(file.FilePath, e.Message);
        Assert.Contains("'nope'", e.Message);
        Assert.Contains("'a'", e.Message); // lists what is there
        Assert.Throws<SafetensorsFormatException>(() => file.GetBytes("nope").ToArray());
        Assert.Throws<SafetensorsFormatException>(() => file.Load("nope"));
        Assert.False(file.Contains("nope"));
    }

    [Fact]
    public unsafe void Tensors_over_2_GiB_are_reached_through_pointers()
    {
        // A sparse file: the 3 GB of data cost no disk space and are read as zeros.
        using var temp = new TempFolder();
        const long size = 3_000_000_000;
        string header = "{\"big\":{\"dtype\":\"U8\",\"shape\":[3,1000000000],\"data_offsets\":[0,3000000000]},\"tail\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[3000000000,3000000002]}}";
        string path = Crafted.Write(temp, "big.safetensors", Crafted.Bytes(header));
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite))
        {
            stream.SetLength(stream.Length + size + 2);
            stream.Position = stream.Length - 2;
            stream.Write([0x34, 0x12]);
        }
        using var file = SafetensorsFile.Open(path);
        var big = file.Info("big");
        Assert.Equal(size, big.ByteLength);
        Assert.Equal(3_000_000_000L, big.ElementCount);
        Assert.Throws<NotSupportedException>(() => file.GetBytes("big").Length);
        Assert.Equal(0, file.GetPointer("big")[size - 1]);
        Assert.True(file.GetPointer("big") + size == file.GetPointer("tail"));
        Assert.Equal(8 + header.Length + size, file.Info("tail").FileOffset);
        Assert.Equal([0x34, 0x12], file.GetBytes("tail").ToArray());
        using var tail = file.Load("tail");
        Assert.Equal((short)0x1234, tail.item<short>());
    }

    [Fact]
    public void Missing_file_is_a_file_not_found_error()
    {
        var e = Assert.Throws<FileNotFoundException>(() => SafetensorsFile.Open("/no/such/file.safetensors"));
        Assert.Contains("/no/such/file.safetensors", e.Message);
    }
}
