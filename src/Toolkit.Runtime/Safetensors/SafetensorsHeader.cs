using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace Toolkit.Runtime.Safetensors;

/// <summary>
/// Parses and validates a safetensors header. Layout: 8 bytes little-endian header length N, N bytes of
/// UTF-8 JSON (an object, possibly padded with trailing spaces), then the data buffer. Every rule of the
/// reference implementation is enforced: dtype known, shape non-negative, shape x element size equals the
/// span of data_offsets, and the tensors tile the data buffer exactly (no overlap, no hole, no trailing
/// bytes). JSON duplicate keys are rejected (System.Text.Json would accept them silently).
/// </summary>
internal static class SafetensorsHeader
{
    /// <summary>Largest header accepted, as in the reference implementation (100 MB).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    public const string MetadataKey = "__metadata__";

    /// <summary>Validated content of a header.</summary>
    public sealed record Parsed(IReadOnlyList<TensorInfo> Tensors, IReadOnlyDictionary<string, string> Metadata, long DataStart);

    /// <summary>Reads the 8-byte prefix and returns the header length, checked against the file length.</summary>
    public static long ReadHeaderLength(string filePath, ReadOnlySpan<byte> prefix, long fileLength)
    {
        if (fileLength < 8)
            throw new SafetensorsFormatException(filePath, null, $"the file is {fileLength} bytes, shorter than the 8-byte header length prefix (truncated or not a safetensors file).");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (n > MaxHeaderBytes)
            throw new SafetensorsFormatException(filePath, null, $"the header length prefix says {n} bytes, more than the {MaxHeaderBytes} bytes allowed (corrupt prefix or not a safetensors file).");
        if ((long)n > fileLength - 8)
            throw new SafetensorsFormatException(filePath, null, $"the header length prefix says {n} bytes, but only {fileLength - 8} bytes follow it (truncated file).");
        if (n < 2)
            throw new SafetensorsFormatException(filePath, null, $"the header length prefix says {n} bytes; a header is at least the 2 bytes '{{}}'.");
        return (long)n;
    }

    /// <summary>Parses the JSON header and validates every tensor against a data buffer of dataLength bytes.</summary>
    public static Parsed Parse(string filePath, ReadOnlySpan<byte> json, long dataLength)
    {
        long dataStart = 8 + json.Length;
        if (json[0] != (byte)'{')
            throw new SafetensorsFormatException(filePath, null, $"the header does not start with '{{' (first byte 0x{json[0]:X2}); not a safetensors file or a corrupt header length.");
        if (!Utf8.IsValid(json))
            throw new SafetensorsFormatException(filePath, null, "the header is not valid UTF-8.");

        var entries = new List<(string Name, SafetensorsDType DType, long[] Shape, long Begin, long End)>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        bool sawMetadata = false;
        string? current = null;
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 64 });
            reader.Read();
            if (reader.TokenType != JsonTokenType.StartObject)
                throw new SafetensorsFormatException(filePath, null, $"the header is a JSON {reader.TokenType}, not an object.");
            while (true)
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.EndObject) break;
                current = reader.GetString()!;
                reader.Read();
                if (current == MetadataKey)
                {
                    if (sawMetadata)
                        throw new SafetensorsFormatException(filePath, null, $"the header has the key '{MetadataKey}' twice.");
                    sawMetadata = true;
                    ReadMetadata(filePath, ref reader, metadata);
                }
                else
                {
                    if (!names.Add(current))
                        throw new SafetensorsFormatException(filePath, current, "the header names this tensor twice (duplicate JSON key).");
                    var (dtype, shape, begin, end) = ReadTensor(filePath, current, ref reader);
                    entries.Add((current, dtype, shape, begin, end));
                }
                current = null;
            }
            // Only whitespace may follow the object (the writer pads with spaces).
            if (reader.Read())
                throw new SafetensorsFormatException(filePath, null, $"the header has content after its JSON object (at byte {reader.TokenStartIndex}).");
        }
        catch (JsonException e)
        {
            throw new SafetensorsFormatException(filePath, current, $"the header is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}): {e.Message}", e);
        }
        catch (InvalidOperationException e)
        {
            // GetString on a token of the wrong kind, or undecodable escapes.
            throw new SafetensorsFormatException(filePath, current, $"the header has an unexpected JSON value: {e.Message}", e);
        }

        return new Parsed(CheckLayout(filePath, entries, dataStart, dataLength), metadata, dataStart);
    }

    static void ReadMetadata(string filePath, ref Utf8JsonReader reader, Dictionary<string, string> metadata)
    {
        if (reader.TokenType == JsonTokenType.Null) return;
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new SafetensorsFormatException(filePath, null, $"'{MetadataKey}' is a JSON {reader.TokenType}, expected an object of strings.");
        while (true)
        {
            reader.Read();
            if (reader.TokenType == JsonTokenType.EndObject) return;
            string key = reader.GetString()!;
            reader.Read();
            if (reader.TokenType != JsonTokenType.String)
                throw new SafetensorsFormatException(filePath, null, $"metadata entry '{key}' is a JSON {reader.TokenType}; metadata values must be strings.");
            if (!metadata.TryAdd(key, reader.GetString()!))
                throw new SafetensorsFormatException(filePath, null, $"metadata key '{key}' appears twice (duplicate JSON key).");
        }
    }

    static (SafetensorsDType DType, long[] Shape, long Begin, long End) ReadTensor(string filePath, string name, ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new SafetensorsFormatException(filePath, name, $"the header entry is a JSON {reader.TokenType}, expected an object with dtype, shape and data_offsets.");
        string? dtypeText = null;
        long[]? shape = null;
        long[]? offsets = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (true)
        {
            reader.Read();
            if (reader.TokenType == JsonTokenType.EndObject) break;
            string field = reader.GetString()!;
            if (!seen.Add(field))
                throw new SafetensorsFormatException(filePath, name, $"the field '{field}' appears twice (duplicate JSON key).");
            reader.Read();
            switch (field)
            {
                case "dtype":
                    if (reader.TokenType != JsonTokenType.String)
                        throw new SafetensorsFormatException(filePath, name, $"'dtype' is a JSON {reader.TokenType}, expected a string.");
                    dtypeText = reader.GetString();
                    break;
                case "shape":
                    shape = ReadIntegers(filePath, name, "shape", ref reader);
                    break;
                case "data_offsets":
                    offsets = ReadIntegers(filePath, name, "data_offsets", ref reader);
                    break;
                default:
                    reader.Skip(); // unknown fields are ignored, as the reference implementation does
                    break;
            }
        }
        if (dtypeText is null) throw new SafetensorsFormatException(filePath, name, "the entry has no 'dtype'.");
        if (shape is null) throw new SafetensorsFormatException(filePath, name, "the entry has no 'shape'.");
        if (offsets is null) throw new SafetensorsFormatException(filePath, name, "the entry has no 'data_offsets'.");
        if (!SafetensorsDTypes.TryParse(dtypeText, out var dtype))
            throw new SafetensorsFormatException(filePath, name, $"unknown or unsupported dtype '{dtypeText}' (supported: {string.Join(", ", Enum.GetNames<SafetensorsDType>())}).");
        if (offsets.Length != 2)
            throw new SafetensorsFormatException(filePath, name, $"'data_offsets' has {offsets.Length} numbers, expected 2 ([begin, end]).");
        return (dtype, shape, offsets[0], offsets[1]);
    }

    static long[] ReadIntegers(string filePath, string name, string field, ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw new SafetensorsFormatException(filePath, name, $"'{field}' is a JSON {reader.TokenType}, expected an array of integers.");
        var values = new List<long>();
        while (true)
        {
            reader.Read();
            if (reader.TokenType == JsonTokenType.EndArray) return values.ToArray();
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long value))
                throw new SafetensorsFormatException(filePath, name, $"'{field}' holds {Describe(ref reader)}, expected integers.");
            if (value < 0)
                throw new SafetensorsFormatException(filePath, name, $"'{field}' holds the negative value {value}.");
            if (values.Count >= 1024)
                throw new SafetensorsFormatException(filePath, name, $"'{field}' has more than 1024 entries.");
            values.Add(value);
        }
    }

    static string Describe(ref Utf8JsonReader reader) =>
        reader.TokenType == JsonTokenType.Number
            ? $"the number {Encoding.UTF8.GetString(reader.ValueSpan)} (not an integer in range)"
            : $"a JSON {reader.TokenType}";

    static List<TensorInfo> CheckLayout(string filePath, List<(string Name, SafetensorsDType DType, long[] Shape, long Begin, long End)> entries, long dataStart, long dataLength)
    {
        foreach (var e in entries)
        {
            if (e.End < e.Begin)
                throw new SafetensorsFormatException(filePath, e.Name, $"data_offsets [{e.Begin}, {e.End}] end before they begin.");
            if (e.End > dataLength)
                throw new SafetensorsFormatException(filePath, e.Name, $"data_offsets [{e.Begin}, {e.End}] run past the end of the data buffer ({dataLength} bytes after the header; truncated file?).");
            long expected;
            try
            {
                expected = e.DType.ElementSize();
                foreach (long dim in e.Shape) expected = checked(expected * dim);
            }
            catch (OverflowException)
            {
                throw new SafetensorsFormatException(filePath, e.Name, $"shape [{string.Join(", ", e.Shape)}] x {e.DType} overflows a 64-bit byte count.");
            }
            if (expected != e.End - e.Begin)
                throw new SafetensorsFormatException(filePath, e.Name, $"shape [{string.Join(", ", e.Shape)}] x {e.DType} ({e.DType.ElementSize()} bytes each) is {expected} bytes, but data_offsets [{e.Begin}, {e.End}] span {e.End - e.Begin} bytes.");
        }

        // The tensors must tile [0, dataLength) exactly: sorted by offsets, each begins where the previous ended.
        var sorted = entries.OrderBy(e => e.Begin).ThenBy(e => e.End).ToList();
        long cursor = 0;
        string? previous = null;
        foreach (var e in sorted)
        {
            if (e.Begin < cursor)
                throw new SafetensorsFormatException(filePath, e.Name, $"data_offsets [{e.Begin}, {e.End}] overlap tensor '{previous}', which ends at {cursor}.");
            if (e.Begin > cursor)
                throw new SafetensorsFormatException(filePath, e.Name, $"data_offsets [{e.Begin}, {e.End}] leave a hole: the previous tensor{(previous is null ? "s end" : $" '{previous}' ends")} at {cursor}; the data buffer must be covered without gaps.");
            cursor = e.End;
            previous = e.Name;
        }
        if (cursor != dataLength)
            throw new SafetensorsFormatException(filePath, previous, $"the tensors cover {cursor} bytes of data, but the file holds {dataLength} bytes after the header ({dataLength - cursor} unindexed trailing bytes).");

        return sorted.Select(e => new TensorInfo(e.Name, e.DType, e.Shape, e.End - e.Begin, filePath, dataStart + e.Begin)).ToList();
    }
}
