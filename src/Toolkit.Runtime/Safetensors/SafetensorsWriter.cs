using System.Text.Encodings.Web;
using System.Text.Json;
using TorchSharp;

namespace Toolkit.Runtime.Safetensors;

/// <summary>A tensor given as raw little-endian bytes (for dtypes TorchSharp lacks, such as FP8).</summary>
public sealed record RawTensor(string Name, SafetensorsDType DType, long[] Shape, ReadOnlyMemory<byte> Data);

/// <summary>What <see cref="SafetensorsWriter.WriteSharded"/> wrote.</summary>
/// <param name="Files">Shard files in order (one file, model.safetensors, when everything fits in one shard).</param>
/// <param name="IndexPath">The index file, or null when a single file was written.</param>
/// <param name="TotalBytes">Bytes of tensor data over all shards (the index's total_size).</param>
public sealed record ShardedWriteResult(IReadOnlyList<string> Files, string? IndexPath, long TotalBytes);

/// <summary>
/// Writes safetensors files the way the reference implementation does: header padded with spaces so the
/// data starts at a multiple of 8, tensors ordered by element size (largest first) then name, so each is
/// aligned to its element size. Files are written to a temporary file and renamed into place (atomic).
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>A tensor to write: its header fields and how to emit its bytes.</summary>
    sealed record Entry(string Name, SafetensorsDType DType, long[] Shape, long ByteLength, Action<Stream> WriteData);

    /// <summary>Writes TorchSharp tensors (any device; non-contiguous ones are made contiguous on the CPU).</summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, torch.Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null) =>
        WriteEntries(path, tensors.Select(FromTorch).ToList(), metadata);

    /// <summary>Writes tensors given as raw bytes; each byte count must equal shape x element size.</summary>
    public static void WriteRaw(string path, IEnumerable<RawTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null) =>
        WriteEntries(path, tensors.Select(FromRaw).ToList(), metadata);

    /// <summary>
    /// Writes a Hugging Face style sharded checkpoint into a folder: tensors in the given order are packed
    /// into shards of at most <paramref name="maxShardBytes"/> bytes of data (a larger tensor gets a shard of
    /// its own), named {stem}-00001-of-0000N.safetensors, plus {stem}.safetensors.index.json with
    /// metadata.total_size and the weight_map. When everything fits in one shard, writes {stem}.safetensors
    /// alone (as transformers does) and removes a stale index. The index is written last. Every shard's
    /// metadata gets "format": "pt" unless given, since transformers refuses safetensors files without it.
    /// Shards of an earlier save in the folder that this one did not overwrite are deleted afterwards. Each
    /// file is replaced atomically, but the set is not: a crash midway can leave new shards beside the old
    /// index (the reader then reports the mismatch).
    /// </summary>
    public static ShardedWriteResult WriteSharded(string folder, IEnumerable<KeyValuePair<string, torch.Tensor>> tensors, long maxShardBytes,
        IReadOnlyDictionary<string, string>? metadata = null, string stem = "model") =>
        WriteShardedEntries(folder, tensors.Select(FromTorch).ToList(), maxShardBytes, metadata, stem);

    /// <summary>Sharded writing of raw tensors; see the TorchSharp overload.</summary>
    public static ShardedWriteResult WriteShardedRaw(string folder, IEnumerable<RawTensor> tensors, long maxShardBytes,
        IReadOnlyDictionary<string, string>? metadata = null, string stem = "model") =>
        WriteShardedEntries(folder, tensors.Select(FromRaw).ToList(), maxShardBytes, metadata, stem);

    static Entry FromTorch(KeyValuePair<string, torch.Tensor> pair)
    {
        var (name, tensor) = pair;
        ArgumentNullException.ThrowIfNull(tensor, name);
        if (!SafetensorsDTypes.TryFromScalarType(tensor.dtype, out var dtype))
            throw new ArgumentException($"Tensor '{name}' has dtype {tensor.dtype}, which safetensors cannot store (supported: float64/32/16, bfloat16, int64/32/16/8, uint8, bool).", nameof(pair));
        long[] shape = tensor.shape.ToArray();
        return new Entry(name, dtype, shape, ByteCount(name, dtype, shape), stream => TensorCopy.WriteTo(tensor, stream));
    }

    static Entry FromRaw(RawTensor raw)
    {
        ArgumentNullException.ThrowIfNull(raw);
        if (!Enum.IsDefined(raw.DType)) throw new ArgumentException($"Tensor '{raw.Name}' has an undefined dtype value {(int)raw.DType}.", nameof(raw));
        long expected = ByteCount(raw.Name, raw.DType, raw.Shape);
        if (raw.Data.Length != expected)
            throw new ArgumentException($"Tensor '{raw.Name}': shape [{string.Join(", ", raw.Shape)}] x {raw.DType} is {expected} bytes, but {raw.Data.Length} bytes were given.", nameof(raw));
        return new Entry(raw.Name, raw.DType, (long[])raw.Shape.Clone(), expected, stream => stream.Write(raw.Data.Span));
    }

    static long ByteCount(string name, SafetensorsDType dtype, long[] shape)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape, name);
        long bytes = dtype.ElementSize();
        foreach (long dim in shape)
        {
            if (dim < 0) throw new ArgumentException($"Tensor '{name}' has a negative dimension in shape [{string.Join(", ", shape)}].");
            bytes = checked(bytes * dim);
        }
        return bytes;
    }

    static void WriteEntries(string path, List<Entry> entries, IReadOnlyDictionary<string, string>? metadata)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in entries)
        {
            if (e.Name == SafetensorsHeader.MetadataKey)
                throw new ArgumentException($"'{SafetensorsHeader.MetadataKey}' is reserved for metadata and cannot name a tensor.");
            if (!names.Add(e.Name)) throw new ArgumentException($"Tensor name '{e.Name}' appears twice.");
        }
        // Largest elements first, then by name: every tensor starts at a multiple of its element size.
        var ordered = entries.OrderByDescending(e => e.DType.ElementSize()).ThenBy(e => e.Name, StringComparer.Ordinal).ToList();
        byte[] header = BuildHeader(ordered, metadata);

        WriteAtomically(path, stream =>
        {
            Span<byte> prefix = stackalloc byte[8];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            stream.Write(prefix);
            stream.Write(header);
            foreach (var e in ordered)
            {
                long before = stream.Position;
                e.WriteData(stream);
                if (stream.Position - before != e.ByteLength)
                    throw new InvalidOperationException($"Tensor '{e.Name}' produced {stream.Position - before} bytes, expected {e.ByteLength}.");
            }
        });
    }

    static byte[] BuildHeader(List<Entry> ordered, IReadOnlyDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(SafetensorsHeader.MetadataKey);
                foreach (var (key, value) in metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
                    json.WriteString(key, value ?? throw new ArgumentException($"Metadata value for '{key}' is null; values must be strings."));
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var e in ordered)
            {
                json.WriteStartObject(e.Name);
                json.WriteString("dtype", e.DType.HeaderName());
                json.WriteStartArray("shape");
                foreach (long dim in e.Shape) json.WriteNumberValue(dim);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + e.ByteLength);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += e.ByteLength;
            }
            json.WriteEndObject();
        }
        int length = (int)buffer.Length;
        int padded = (length + 8 + 7) / 8 * 8 - 8;
        for (int i = length; i < padded; i++) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }

    static ShardedWriteResult WriteShardedEntries(string folder, List<Entry> entries, long maxShardBytes, IReadOnlyDictionary<string, string>? metadata, string stem)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxShardBytes, 1);
        ArgumentException.ThrowIfNullOrWhiteSpace(stem);
        if (metadata is null || !metadata.ContainsKey("format"))
            metadata = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>()) { ["format"] = "pt" };
        string full = Path.GetFullPath(folder);
        Directory.CreateDirectory(full);

        var shards = new List<List<Entry>>();
        long current = 0;
        foreach (var e in entries)
        {
            if (shards.Count == 0 || (current + e.ByteLength > maxShardBytes && shards[^1].Count > 0))
            {
                shards.Add([]);
                current = 0;
            }
            shards[^1].Add(e);
            current += e.ByteLength;
        }
        if (shards.Count == 0) shards.Add([]);
        long total = entries.Sum(e => e.ByteLength);
        string indexPath = Path.Combine(full, $"{stem}.safetensors.index.json");

        if (shards.Count == 1)
        {
            string single = Path.Combine(full, $"{stem}.safetensors");
            WriteEntries(single, shards[0], metadata);
            if (File.Exists(indexPath)) File.Delete(indexPath);
            RemoveStaleShards(full, stem, [single]);
            return new ShardedWriteResult([single], null, total);
        }

        var files = new List<string>();
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var allNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in entries)
            if (!allNames.Add(e.Name)) throw new ArgumentException($"Tensor name '{e.Name}' appears twice.");
        for (int i = 0; i < shards.Count; i++)
        {
            string shardName = $"{stem}-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            string shardPath = Path.Combine(full, shardName);
            WriteEntries(shardPath, shards[i], metadata);
            files.Add(shardPath);
            foreach (var e in shards[i]) weightMap[e.Name] = shardName;
        }
        WriteAtomically(indexPath, stream =>
        {
            using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
            json.WriteStartObject();
            json.WriteStartObject("metadata");
            json.WriteNumber("total_size", total);
            json.WriteEndObject();
            json.WriteStartObject("weight_map");
            foreach (var (name, shard) in weightMap) json.WriteString(name, shard);
            json.WriteEndObject();
            json.WriteEndObject();
        });
        RemoveStaleShards(full, stem, files);
        return new ShardedWriteResult(files, indexPath, total);
    }

    /// <summary>Deletes shards of an earlier save ({stem}-NNNNN-of-NNNNN.safetensors) that the new one did not write.</summary>
    static void RemoveStaleShards(string folder, string stem, IReadOnlyList<string> keep)
    {
        var pattern = new System.Text.RegularExpressions.Regex($"^{System.Text.RegularExpressions.Regex.Escape(stem)}-\\d{{5}}-of-\\d{{5}}\\.safetensors$");
        foreach (string file in Directory.EnumerateFiles(folder))
            if (pattern.IsMatch(Path.GetFileName(file)) && !keep.Contains(file)) File.Delete(file);
    }

    /// <summary>Writes into a temporary file beside the target, flushes it to disk, then renames it over the target.</summary>
    static void WriteAtomically(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string temp = $"{full}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
