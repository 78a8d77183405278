using System.Buffers.Binary;
using System.Text;
using Toolkit.Runtime.Safetensors;
using TorchSharp;

namespace Toolkit.Runtime.Tests.Safetensors;

/// <summary>
/// Thousands of systematically and randomly mutated files. Each must either open with every tensor inside
/// the file and consistent (and then read back exactly the file's bytes), or raise SafetensorsFormatException
/// naming the file; any other exception, or an accepted file whose tensors break the format's rules, fails.
/// </summary>
public class CorruptionTests(ITestOutputHelper output)
{
    static readonly string Fixtures = Path.Combine(AppContext.BaseDirectory, "fixtures", "safetensors");

    sealed class Harness(TempFolder temp)
    {
        readonly string path = temp.File("mutant.safetensors");
        public int Accepted, Rejected;
        public readonly List<string> Failures = [];

        public void Check(string description, byte[] bytes, bool mustReject = false)
        {
            File.WriteAllBytes(path, bytes);
            try
            {
                using (var file = SafetensorsFile.Open(path))
                {
                    string? problem = Verify(file, bytes);
                    if (problem is not null) { Failures.Add($"{description}: accepted but {problem}"); return; }
                }
                if (mustReject) Failures.Add($"{description}: accepted, must be rejected");
                Accepted++;
            }
            catch (SafetensorsFormatException e)
            {
                if (!e.Message.Contains(path)) Failures.Add($"{description}: message does not name the file: {e.Message}");
                Rejected++;
            }
            catch (Exception e)
            {
                Failures.Add($"{description}: {e.GetType().Name}: {e.Message}");
            }
        }

        /// <summary>Independent check of an accepted file against its raw bytes; null when consistent.</summary>
        static string? Verify(SafetensorsFile file, byte[] bytes)
        {
            if (file.FileLength != bytes.Length) return "wrong file length";
            long header = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
            if (file.DataStart != 8 + header) return "wrong data start";
            long cursor = file.DataStart;
            foreach (var info in file.Tensors.Values.OrderBy(t => t.FileOffset).ThenBy(t => t.ByteLength))
            {
                long elements = 1;
                foreach (long d in info.Shape)
                {
                    if (d < 0) return $"negative dim in {info.Name}";
                    elements = checked(elements * d);
                }
                if (elements * info.DType.ElementSize() != info.ByteLength) return $"byte length of {info.Name}";
                if (info.FileOffset != cursor) return $"{info.Name} does not start where the previous tensor ended";
                if (info.FileOffset + info.ByteLength > bytes.Length) return $"{info.Name} out of bounds";
                cursor += info.ByteLength;
                if (!file.GetBytes(info.Name).SequenceEqual(bytes.AsSpan((int)info.FileOffset, (int)info.ByteLength)))
                    return $"{info.Name} bytes differ from the file";
                if (!info.DType.IsRawOnly() && info.ByteLength <= 4096)
                {
                    using var t = file.Load(info.Name);
                    if (!t.shape.SequenceEqual(info.Shape)) return $"{info.Name} loaded with the wrong shape";
                    if (!t.bytes.SequenceEqual(file.GetBytes(info.Name))) return $"{info.Name} loaded different bytes";
                }
            }
            if (cursor != bytes.Length) return "tensors do not cover the file";
            if (file.Names.Count != file.Tensors.Count) return "names and tensors disagree";
            return null;
        }
    }

    static byte[] SampleFile(TempFolder temp)
    {
        string path = temp.File("sample.safetensors");
        SafetensorsWriter.WriteRaw(path, DotnetWrittenSample.Tensors().Select(t => t.Tensor), DotnetWrittenSample.Metadata);
        return File.ReadAllBytes(path);
    }

    static IEnumerable<(string Name, byte[] Bytes)> BaseFiles(TempFolder temp)
    {
        yield return ("dotnet sample", SampleFile(temp));
        yield return ("python dtypes", File.ReadAllBytes(Path.Combine(Fixtures, "dtypes.safetensors")));
        yield return ("python shard", File.ReadAllBytes(Path.Combine(Fixtures, "sharded", "model-00002-of-00002.safetensors")));
    }

    void Report(Harness h, string what)
    {
        output.WriteLine($"{what}: {h.Accepted} accepted, {h.Rejected} rejected, {h.Failures.Count} failures");
        Assert.True(h.Failures.Count == 0, string.Join("\n", h.Failures.Take(20)));
    }

    [Fact]
    public void Every_truncation_is_rejected()
    {
        using var temp = new TempFolder();
        var h = new Harness(temp);
        foreach (var (name, bytes) in BaseFiles(temp))
            for (int length = 0; length < bytes.Length; length++)
                h.Check($"{name} truncated to {length}", bytes[..length], mustReject: true);
        Report(h, "truncations");
        Assert.Equal(0, h.Accepted);
    }

    [Fact]
    public void Every_wrong_header_length_is_rejected()
    {
        using var temp = new TempFolder();
        var h = new Harness(temp);
        foreach (var (name, bytes) in BaseFiles(temp))
        {
            ulong real = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
            var lengths = Enumerable.Range(0, (int)real + 64).Select(i => (ulong)i)
                .Concat<ulong>([ulong.MaxValue, ulong.MaxValue - 7, 1UL << 63, 1UL << 32, (ulong)bytes.Length, 100_000_000, 100_000_001]);
            foreach (ulong n in lengths.Where(n => n != real))
            {
                var copy = (byte[])bytes.Clone();
                BinaryPrimitives.WriteUInt64LittleEndian(copy, n);
                // Longer runs into the data; shorter moves data start, so the tensors no longer cover the data exactly.
                h.Check($"{name} header length {n}", copy, mustReject: true);
            }
        }
        Report(h, "header lengths");
    }

    [Fact]
    public void Single_byte_changes_in_every_header_position()
    {
        using var temp = new TempFolder();
        var h = new Harness(temp);
        var rng = new Random(11);
        byte[] interesting = [.. "\0 \"{}[],:09-.eE\\u\x7f"u8, 0x80, 0xC3, 0xFF];
        foreach (var (name, bytes) in BaseFiles(temp))
        {
            int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
            for (int position = 0; position < headerEnd; position++)
                for (int k = 0; k < 3; k++)
                {
                    var copy = (byte[])bytes.Clone();
                    byte value = k == 0 ? (byte)(bytes[position] ^ (1 << rng.Next(8))) : interesting[rng.Next(interesting.Length)];
                    if (value == bytes[position]) continue;
                    copy[position] = value;
                    h.Check($"{name} byte {position} 0x{bytes[position]:X2} -> 0x{value:X2}", copy);
                }
        }
        Report(h, "header byte changes");
        Assert.True(h.Rejected > 1000);
    }

    [Fact]
    public void Digit_changes_keep_json_valid_and_hit_the_layout_rules()
    {
        using var temp = new TempFolder();
        var h = new Harness(temp);
        var rng = new Random(12);
        foreach (var (name, bytes) in BaseFiles(temp))
        {
            int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
            var digits = Enumerable.Range(8, headerEnd - 8).Where(i => bytes[i] is >= (byte)'0' and <= (byte)'9').ToArray();
            for (int trial = 0; trial < 700; trial++)
            {
                var copy = (byte[])bytes.Clone();
                int changes = 1 + rng.Next(2);
                for (int c = 0; c < changes; c++) copy[digits[rng.Next(digits.Length)]] = (byte)('0' + rng.Next(10));
                h.Check($"{name} digit trial {trial}", copy);
            }
        }
        Report(h, "digit changes");
        Assert.True(h.Rejected > 500);
    }

    [Fact]
    public void Structural_json_edits_are_rejected_or_consistent()
    {
        using var temp = new TempFolder();
        var h = new Harness(temp);
        foreach (var (name, bytes) in BaseFiles(temp))
        {
            int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
            string header = Encoding.UTF8.GetString(bytes, 8, headerLength).TrimEnd(' ');
            byte[] data = bytes[(8 + headerLength)..];
            string first = header[..(header.IndexOf('}') + 1)]; // first entry (metadata or a tensor) up to its first closing brace
            var edits = new List<(string, string)>
            {
                ("duplicate first entry", header.Insert(header.Length - 1, "," + first[1..])),
                ("metadata value number", header.Replace("\"pt\"", "1")),
                ("dtype to U16", header.Replace("\"F16\"", "\"U16\"")),
                ("dtype swap F32/I32", header.Replace("\"F32\"", "\"TMP\"").Replace("\"I32\"", "\"F32\"").Replace("\"TMP\"", "\"I32\"")),
                ("dtype swap F16/BF16", header.Replace("\"F16\"", "\"TMP\"").Replace("\"BF16\"", "\"F16\"").Replace("\"TMP\"", "\"BF16\"")),
                ("shape to null", header.Replace("\"shape\":[", "\"shape\":null,\"x\":[")),
                ("offsets as strings", header.Replace("\"data_offsets\":[0,", "\"data_offsets\":[\"0\",")),
                ("nested too deep", header.Insert(header.Length - 1, ",\"deep\":" + new string('[', 100) + new string(']', 100))),
                ("trailing garbage", header + "x"),
                ("trailing object", header + "{}"),
                ("leading whitespace", " " + header),
                ("BOM", "\uFEFF" + header),
                ("negative zero dim", header.Replace("\"shape\":[", "\"shape\":[-0,")),
                ("exponent dim", header.Replace("\"shape\":[2", "\"shape\":[2e0")),
                ("empty header", "{}"),
            };
            foreach (var (what, edited) in edits)
            {
                if (edited == header) continue;
                byte[] json = Encoding.UTF8.GetBytes(edited);
                h.Check($"{name}: {what}", Crafted.Bytes(json, data));
            }
        }
        Report(h, "structural edits");
    }

    [Fact]
    public void Random_mutations_anywhere()
    {
        using var temp = new TempFolder();
        var h = new Harness(temp);
        var rng = new Random(13);
        var bases = BaseFiles(temp).ToList();
        for (int trial = 0; trial < 4000; trial++)
        {
            var (name, bytes) = bases[trial % bases.Count];
            int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
            var copy = new List<byte>(bytes);
            int operations = 1 + rng.Next(4);
            string what = "";
            for (int op = 0; op < operations && copy.Count > 0; op++)
            {
                // Mostly within the header, where structure lives; sometimes in the data.
                int position = rng.NextDouble() < 0.75 ? rng.Next(Math.Min(headerEnd, copy.Count)) : rng.Next(copy.Count);
                switch (rng.Next(5))
                {
                    case 0: copy[position] = (byte)rng.Next(256); what += $" set@{position}"; break;
                    case 1: copy[position] ^= (byte)(1 << rng.Next(8)); what += $" flip@{position}"; break;
                    case 2: copy.RemoveRange(position, Math.Min(1 + rng.Next(8), copy.Count - position)); what += $" delete@{position}"; break;
                    case 3: copy.InsertRange(position, Enumerable.Range(0, 1 + rng.Next(8)).Select(_ => (byte)rng.Next(256))); what += $" insert@{position}"; break;
                    default:
                        int from = rng.Next(copy.Count), length = Math.Min(1 + rng.Next(32), copy.Count - from);
                        copy.InsertRange(position, copy.GetRange(from, length)); what += $" copy{from}->{position}"; break;
                }
            }
            h.Check($"{name} trial {trial}:{what}", copy.ToArray());
        }
        Report(h, "random mutations");
        Assert.True(h.Accepted > 40 && h.Rejected > 1000, $"{h.Accepted} accepted, {h.Rejected} rejected");
    }
}
