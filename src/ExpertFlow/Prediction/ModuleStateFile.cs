using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace ExpertFlow.Prediction;

/// <summary>
/// Checks a file written by TorchSharp's <c>Module.save</c> against the module about to load it, before TorchSharp reads
/// it: TorchSharp trusts the file's counts (a damaged rank allocates an array of that length) and fails with messages that
/// name neither the file nor the tensor. The format: LEB128 entry count, then per entry a length-prefixed UTF-8 name,
/// LEB128 dtype, rank and dimensions, and the raw little-endian data.
/// </summary>
internal static class ModuleStateFile
{
    /// <summary>
    /// Throws InvalidDataException (naming <paramref name="path"/>, <paramref name="configFile"/> that shaped the module,
    /// and what differs) unless the file holds exactly the module's state.
    /// </summary>
    public static void Check(string path, nn.Module module, string configFile, string remedy)
    {
        var expected = module.state_dict();
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        long length = stream.Length;
        using var reader = new BinaryReader(stream, Encoding.UTF8);
        InvalidDataException Damaged(string what) => new($"{path} is damaged or does not belong to {configFile}: {what}; {remedy}");

        long Number(string what)
        {
            long value = 0;
            for (int shift = 0; ; shift += 7)
            {
                if (stream.Position >= length) throw Damaged($"it ends inside the {what}");
                if (shift > 56) throw Damaged($"the {what} is not a valid number");
                byte b = reader.ReadByte();
                value |= (long)(b & 0x7F) << shift;
                if ((b & 0x80) == 0) return value;
            }
        }

        long entries = Number("entry count");
        if (entries != expected.Count) throw Damaged($"it holds {entries} tensors, the predictor has {expected.Count}");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (long i = 0; i < entries; i++)
        {
            long nameLength = Number($"name length of entry {i}");
            if (nameLength > 1024 || nameLength > length - stream.Position) throw Damaged($"entry {i} has a name of {nameLength} bytes");
            string name = Encoding.UTF8.GetString(reader.ReadBytes((int)nameLength));
            if (!expected.TryGetValue(name, out var tensor)) throw Damaged($"entry {i} is '{Printable(name)}', which the predictor does not have");
            if (!seen.Add(name)) throw Damaged($"it holds '{name}' twice");
            long dtype = Number($"dtype of '{name}'");
            if (dtype != (long)tensor.dtype) throw Damaged($"'{name}' has dtype code {dtype}, the predictor's is {(long)tensor.dtype} ({tensor.dtype})");
            long rank = Number($"rank of '{name}'");
            if (rank != tensor.ndim) throw Damaged($"'{name}' has {rank} dimensions, the predictor's has {tensor.ndim}");
            for (int d = 0; d < rank; d++)
            {
                long size = Number($"shape of '{name}'");
                if (size != tensor.shape[d]) throw Damaged($"'{name}' has size {size} in dimension {d}, the predictor's is [{string.Join(", ", tensor.shape)}]");
            }
            long bytes = tensor.NumberOfElements * tensor.ElementSize;
            if (bytes > length - stream.Position) throw Damaged($"it ends inside the data of '{name}' (truncated)");
            stream.Position += bytes;
        }
        if (stream.Position != length) throw Damaged($"{length - stream.Position} bytes follow the last tensor");
    }

    static string Printable(string name)
    {
        var text = new string(name.Select(c => char.IsControl(c) ? '?' : c).ToArray());
        return text.Length > 80 ? text[..77] + "..." : text;
    }
}
