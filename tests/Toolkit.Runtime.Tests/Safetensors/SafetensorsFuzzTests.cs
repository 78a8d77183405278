using System.Buffers.Binary;
using CsCheck;
using Fuzzing;
using Toolkit.Runtime.Safetensors;

namespace Toolkit.Runtime.Tests.Safetensors;

/// <summary>
/// Property tests over the Python-written fixtures: 1,000 damaged single files (bytes), 1,000 damaged headers (JSON
/// edits over the same data), 1,000 damaged index files and 1,000 damaged shards of a sharded checkpoint. Each opens to
/// a checkpoint whose every tensor lies inside its file and loads, or throws SafetensorsFormatException (or
/// FileNotFoundException) naming the file; never another exception.
/// </summary>
public class SafetensorsFuzzTests(ITestOutputHelper output)
{
    static readonly string Fixtures = Path.Combine(AppContext.BaseDirectory, "fixtures", "safetensors");
    static readonly Type[] Documented = [typeof(SafetensorsFormatException), typeof(FileNotFoundException)];

    /// <summary>What an accepted checkpoint must satisfy: every tensor resolves, lies inside its shard, and loads.</summary>
    static void CheckValid(SafetensorsCheckpoint checkpoint)
    {
        Assert.Equal(checkpoint.Names.Count, checkpoint.Tensors.Count);
        foreach (string name in checkpoint.Names)
        {
            var info = checkpoint.Info(name);
            var shard = checkpoint.FileOf(name);
            Assert.Equal(shard.FilePath, info.FilePath);
            Assert.InRange(info.FileOffset, shard.DataStart, shard.FileLength);
            Assert.InRange(info.FileOffset + info.ByteLength, info.FileOffset, shard.FileLength);
            Assert.Equal(info.ElementCount * info.DType.ElementSize(), info.ByteLength);
            if (!info.DType.IsRawOnly())
            {
                using var t = checkpoint.Load(name);
                Assert.Equal(info.Shape, t.shape);
            }
            else Assert.Equal(info.ByteLength, checkpoint.GetBytes(name).Length);
        }
    }

    void Run(Gen<Mutant> mutants, string fileName, Action<Mutant> write, Func<SafetensorsCheckpoint> open)
    {
        var property = new LoaderProperty(fileName, Documented);
        mutants.Sample(m =>
        {
            write(m);
            property.Check(m, () =>
            {
                using var checkpoint = open();
                CheckValid(checkpoint);
            });
        }, iter: 1000, threads: 1, print: m => m.Description);
        output.WriteLine(property.ToString());
        Assert.True(property.Accepted > 0 && property.Rejected > 0, property.ToString());
    }

    /// <summary>Offsets of the prefix, the header's structure characters and the data start.</summary>
    static int[] HotSpots(byte[] file)
    {
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(file);
        var spots = new List<int> { 0, 8, 8 + n };
        for (int i = 8; i < 8 + n; i++)
            if (file[i] is (byte)'"' or (byte)'[' or (byte)':' or (byte)',') spots.Add(i);
        return spots.ToArray();
    }

    [Fact]
    public void Damaged_files_open_or_name_the_file()
    {
        using var temp = new TempFolder();
        string path = temp.File("dtypes.safetensors");
        byte[] original = File.ReadAllBytes(Path.Combine(Fixtures, "dtypes.safetensors"));
        Run(ByteMutations.Of(original, HotSpots(original)), "dtypes.safetensors", m => File.WriteAllBytes(path, m.Bytes), () => SafetensorsCheckpoint.Open(path));
    }

    [Fact]
    public void Damaged_headers_open_or_name_the_file()
    {
        using var temp = new TempFolder();
        string path = temp.File("dtypes.safetensors");
        byte[] original = File.ReadAllBytes(Path.Combine(Fixtures, "dtypes.safetensors"));
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(original);
        string header = System.Text.Encoding.UTF8.GetString(original, 8, n);
        byte[] data = original[(8 + n)..];
        var mutants = JsonMutations.Of(header, "dtype", "shape", "data_offsets", "__metadata__").Select(m =>
        {
            var file = new byte[8 + m.Bytes.Length + data.Length];
            BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)m.Bytes.Length);
            m.Bytes.CopyTo(file, 8);
            data.CopyTo(file, 8 + m.Bytes.Length);
            return m with { Bytes = file };
        });
        Run(mutants, "dtypes.safetensors", m => File.WriteAllBytes(path, m.Bytes), () => SafetensorsCheckpoint.Open(path));
    }

    static string CopySharded(TempFolder temp)
    {
        string folder = temp.File("sharded");
        Directory.CreateDirectory(folder);
        foreach (var f in Directory.GetFiles(Path.Combine(Fixtures, "sharded"))) File.Copy(f, Path.Combine(folder, Path.GetFileName(f)));
        return folder;
    }

    [Fact]
    public void Damaged_indexes_open_or_name_the_index()
    {
        using var temp = new TempFolder();
        string folder = CopySharded(temp), index = Path.Combine(folder, SafetensorsCheckpoint.IndexFileName);
        string text = File.ReadAllText(index);
        var shards = Directory.GetFiles(folder, "*.safetensors").Select(Path.GetFileName).ToArray();
        // messages about a shard the index points to name the shard; all others the index
        Run(JsonMutations.Of(text, ["weight_map", "metadata", "total_size", .. shards!]), SafetensorsCheckpoint.IndexFileName,
            m => File.WriteAllBytes(index, m.Bytes), () => SafetensorsCheckpoint.Open(folder));
    }

    [Fact]
    public void Damaged_shards_open_or_name_the_shard()
    {
        using var temp = new TempFolder();
        string folder = CopySharded(temp);
        var shards = Directory.GetFiles(folder, "*.safetensors").Order().ToArray();
        var originals = shards.Select(File.ReadAllBytes).ToArray();
        // one shard damaged (or deleted: empty description), the others restored
        var mutants = Gen.Int[0, shards.Length - 1].SelectMany(i => Gen.Frequency(
            (20, ByteMutations.Of(originals[i], HotSpots(originals[i]))),
            (1, Gen.Const(new Mutant("delete the shard", [])))).Select(m => (Shard: i, Mutant: m with { Description = $"{Path.GetFileName(shards[i])}: {m.Description}" })));
        var property = new LoaderProperty([.. shards.Select(Path.GetFileName)!], Documented);
        mutants.Sample(m =>
        {
            for (int i = 0; i < shards.Length; i++) File.WriteAllBytes(shards[i], originals[i]);
            if (m.Mutant.Description.EndsWith("delete the shard")) File.Delete(shards[m.Shard]);
            else File.WriteAllBytes(shards[m.Shard], m.Mutant.Bytes);
            property.Check(m.Mutant, () =>
            {
                using var checkpoint = SafetensorsCheckpoint.Open(folder);
                CheckValid(checkpoint);
            });
        }, iter: 1000, threads: 1, print: m => m.Mutant.Description);
        output.WriteLine(property.ToString());
        Assert.True(property.Accepted > 0 && property.Rejected > 0, property.ToString());
    }
}
