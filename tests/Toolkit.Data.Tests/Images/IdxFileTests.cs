using System.Buffers.Binary;
using System.IO.Compression;
using Toolkit.Data.Images;

namespace Toolkit.Data.Tests.Images;

public sealed class IdxFileTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("idx-tests-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    static byte[] Idx(byte type, int[] dims, int payload)
    {
        var bytes = new byte[4 + 4 * dims.Length + payload];
        bytes[2] = type;
        bytes[3] = (byte)dims.Length;
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * i), dims[i]);
        for (int i = 0; i < payload; i++) bytes[4 + 4 * dims.Length + i] = (byte)(i * 7);
        return bytes;
    }

    static byte[] Gzip(byte[] raw)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest)) gz.Write(raw);
        return ms.ToArray();
    }

    string Write(string name, byte[] content)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllBytes(path, content);
        return path;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Reads_raw_and_gzip(bool gzip)
    {
        var raw = Idx(0x08, [3, 2, 4], 24);
        var a = IdxFile.Read(Write("a", gzip ? Gzip(raw) : raw));
        Assert.Equal([3, 2, 4], a.Dimensions);
        Assert.Equal(raw.AsSpan(16).ToArray(), a.Data);
    }

    public static TheoryData<string, byte[], string> Corruptions()
    {
        var good = Idx(0x08, [3, 2, 4], 24);
        var badMagic = (byte[])good.Clone(); badMagic[0] = 0x12;
        var floatType = (byte[])good.Clone(); floatType[2] = 0x0D;
        var zeroRank = Idx(0x08, [], 0);
        var rank9 = (byte[])good.Clone(); rank9[3] = 9;
        var zeroDim = Idx(0x08, [3, 0, 4], 0);
        var hugeDim = (byte[])good.Clone(); BinaryPrimitives.WriteUInt32BigEndian(hugeDim.AsSpan(4), 0xFFFFFFF0);
        return new()
        {
            { "empty", [], "shorter than an IDX header" },
            { "two bytes", [0, 0], "shorter than an IDX header" },
            { "bad magic", badMagic, "magic number" },
            { "float elements", floatType, "type 0x0d" },
            { "rank 0", zeroRank, "0 dimensions" },
            { "rank 9", rank9, "9 dimensions" },
            { "header cut in dims", good.AsSpan(0, 9).ToArray(), "ends inside its header" },
            { "zero dimension", zeroDim, "size 0 for dimension 1" },
            { "huge dimension", hugeDim, "declares size" },
            { "truncated payload", good.AsSpan(0, good.Length - 5).ToArray(), "truncated" },
            { "trailing bytes", [.. good, 1, 2], "data after" },
            { "truncated gzip", Gzip(good).AsSpan(0, Gzip(good).Length / 2).ToArray(), "" },
            { "gzip of truncated payload", Gzip(good.AsSpan(0, good.Length - 1).ToArray()), "truncated" },
            { "gzip of bad magic", Gzip(badMagic), "magic number" },
        };
    }

    [Theory]
    [MemberData(nameof(Corruptions))]
    public void Rejects_corrupt_files_with_their_name(string caseName, byte[] content, string expected)
    {
        string path = Write(caseName.Replace(' ', '_'), content);
        var e = Assert.ThrowsAny<InvalidDataException>(() => IdxFile.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Missing_file_names_the_path()
    {
        var e = Assert.Throws<FileNotFoundException>(() => IdxFile.Read(Path.Combine(dir, "nope")));
        Assert.Contains("nope", e.Message);
    }

    [Fact]
    public void Mnist_folder_checks_that_images_and_labels_belong_together()
    {
        Write("train-images-idx3-ubyte.gz", Gzip(Idx(0x08, [3, 2, 2], 12)));
        Write("train-labels-idx1-ubyte", Idx(0x08, [4], 4));
        var e = Assert.Throws<InvalidDataException>(() => MnistFormat.Load(dir, DataSplit.Train));
        Assert.Contains("3 images", e.Message);
        Assert.Contains("4 labels", e.Message);
    }

    [Fact]
    public void Mnist_folder_rejects_labels_given_as_images()
    {
        Write("t10k-images.idx3-ubyte", Idx(0x08, [4], 4));
        Write("t10k-labels.idx1-ubyte", Idx(0x08, [4], 4));
        var e = Assert.Throws<InvalidDataException>(() => MnistFormat.Load(dir, DataSplit.Test));
        Assert.Contains("1 dimensions", e.Message);
    }

    [Fact]
    public void Mnist_folder_says_which_file_is_missing()
    {
        var e = Assert.Throws<FileNotFoundException>(() => MnistFormat.Load(dir, DataSplit.Train));
        Assert.Contains("train-images-idx3-ubyte", e.Message);
    }

    [Fact]
    public void Loads_the_installed_fashion_mnist()
    {
        Assert.SkipUnless(Directory.Exists(MnistFormat.FashionMnistDebianDirectory), "dataset-fashion-mnist is not installed");
        var test = MnistFormat.LoadFashionMnist(DataSplit.Test);
        Assert.Equal(10_000, test.Count);
        Assert.Equal((1, 28, 28), (test.Channels, test.Height, test.Width));
        Assert.Equal(10, test.ClassCount);
        // Fashion-MNIST's test split is balanced: 1000 images per class.
        Assert.All(test.Labels!.GroupBy(l => l), g => Assert.Equal(1000, g.Count()));
        var batch = new float[2 * 784];
        test.ReadBatch([0, 1], batch);
        Assert.InRange(batch.Max(), 0.5f, 1f);
        Assert.Equal(0f, batch.Min());
    }
}
