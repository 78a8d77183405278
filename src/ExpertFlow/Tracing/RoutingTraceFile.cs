using System.Buffers.Binary;
using System.Text;

namespace ExpertFlow.Tracing;

/// <summary>
/// Compact binary routing traces (format in docs/routing-trace-format.md): a 16-byte header
/// ("EFRT", version, layers, experts, top-k, bytes per expert id), then one fixed-size record per token:
/// sequence id (u32), position (u32), token id (u32), layers x top-k expert ids (u8, or u16 when more than
/// 256 experts). All integers little-endian.
/// </summary>
public static class RoutingTraceFile
{
    public static ReadOnlySpan<byte> Magic => "EFRT"u8;
    public const ushort Version = 1;
    public const int HeaderSize = 16;

    /// <summary>Bytes per expert id for <paramref name="numExperts"/> experts.</summary>
    public static int IdBytes(int numExperts) => numExperts <= 256 ? 1 : 2;

    /// <summary>Size of one token record.</summary>
    public static int RecordSize(RoutingTraceHeader h) => 12 + h.ExpertsPerToken * IdBytes(h.NumExperts);

    /// <summary>Writes a whole trace atomically.</summary>
    public static void Write(string path, RoutingTraceHeader header, IEnumerable<TokenRoute> routes) =>
        Toolkit.Reporting.Files.WriteAtomically(path, temp =>
        {
            using var writer = new RoutingTraceWriter(File.Create(temp), header);
            foreach (var r in routes) writer.Write(r);
        });

    /// <summary>Reads a trace's header and records.</summary>
    public static (RoutingTraceHeader Header, List<TokenRoute> Routes) Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"routing trace '{path}' not found; record one with 'expertflow trace'", path);
        using var reader = new RoutingTraceReader(File.OpenRead(path), path);
        return (reader.Header, reader.ReadAll().ToList());
    }

    /// <summary>Groups records into sequences (by id, positions sorted); a gap in positions is an error.</summary>
    public static List<TracedSequence> ToSequences(IEnumerable<TokenRoute> routes)
    {
        var result = new List<TracedSequence>();
        foreach (var group in routes.GroupBy(r => r.SequenceId))
        {
            var ordered = group.OrderBy(r => r.Position).ToArray();
            for (int i = 0; i < ordered.Length; i++)
                if (ordered[i].Position != i) throw new InvalidDataException($"routing trace: sequence {group.Key} lacks position {i}");
            result.Add(new TracedSequence(group.Key, ordered.Select(r => r.TokenId).ToArray(), ordered.Select(r => r.Experts).ToArray()));
        }
        return result;
    }

    /// <summary>Flattens sequences back into records.</summary>
    public static IEnumerable<TokenRoute> ToRoutes(IEnumerable<TracedSequence> sequences) =>
        sequences.SelectMany(s => s.TokenIds.Select((t, p) => new TokenRoute(s.SequenceId, p, t, s.Experts[p])));

    internal static byte[] EncodeHeader(RoutingTraceHeader h)
    {
        if (h.NumLayers is < 1 or > ushort.MaxValue || h.NumExperts is < 1 or > ushort.MaxValue || h.TopK < 1 || h.TopK > h.NumExperts)
            throw new ArgumentException($"invalid routing trace header: {h}");
        var bytes = new byte[HeaderSize];
        Magic.CopyTo(bytes);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(4), Version);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(6), (ushort)h.NumLayers);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)h.NumExperts);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(10), (ushort)h.TopK);
        bytes[12] = (byte)IdBytes(h.NumExperts);
        return bytes;
    }

    internal static RoutingTraceHeader DecodeHeader(ReadOnlySpan<byte> bytes, string source)
    {
        if (bytes.Length < HeaderSize || !bytes[..4].SequenceEqual(Magic))
            throw new InvalidDataException($"'{source}' is not a routing trace (expected magic \"EFRT\")");
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(bytes[4..]);
        if (version != Version) throw new InvalidDataException($"'{source}': routing trace version {version}; this build reads version {Version}");
        var h = new RoutingTraceHeader(BinaryPrimitives.ReadUInt16LittleEndian(bytes[6..]), BinaryPrimitives.ReadUInt16LittleEndian(bytes[8..]), BinaryPrimitives.ReadUInt16LittleEndian(bytes[10..]));
        if (bytes[12] != IdBytes(h.NumExperts)) throw new InvalidDataException($"'{source}': expert id width {bytes[12]} does not match {h.NumExperts} experts");
        return h;
    }
}

/// <summary>Streams token records into a trace.</summary>
public sealed class RoutingTraceWriter : IDisposable
{
    readonly Stream stream;
    readonly byte[] record;
    readonly int idBytes;

    public RoutingTraceWriter(Stream stream, RoutingTraceHeader header)
    {
        this.stream = stream;
        Header = header;
        idBytes = RoutingTraceFile.IdBytes(header.NumExperts);
        record = new byte[RoutingTraceFile.RecordSize(header)];
        stream.Write(RoutingTraceFile.EncodeHeader(header));
    }

    public RoutingTraceHeader Header { get; }

    public void Write(TokenRoute route)
    {
        if (route.Experts.Length != Header.ExpertsPerToken)
            throw new ArgumentException($"token {route.SequenceId}:{route.Position} has {route.Experts.Length} expert ids; the trace needs {Header.ExpertsPerToken} (layers x top-k)");
        var span = record.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)route.SequenceId);
        BinaryPrimitives.WriteUInt32LittleEndian(span[4..], (uint)route.Position);
        BinaryPrimitives.WriteUInt32LittleEndian(span[8..], (uint)route.TokenId);
        for (int i = 0; i < route.Experts.Length; i++)
        {
            int e = route.Experts[i];
            if ((uint)e >= (uint)Header.NumExperts) throw new ArgumentException($"token {route.SequenceId}:{route.Position}: expert id {e} outside 0..{Header.NumExperts - 1}");
            if (idBytes == 1) span[12 + i] = (byte)e;
            else BinaryPrimitives.WriteUInt16LittleEndian(span[(12 + 2 * i)..], (ushort)e);
        }
        stream.Write(record);
    }

    public void Dispose() => stream.Dispose();
}

/// <summary>Streams token records out of a trace.</summary>
public sealed class RoutingTraceReader : IDisposable
{
    readonly Stream stream;
    readonly string source;

    public RoutingTraceReader(Stream stream, string source = "routing trace")
    {
        this.stream = stream;
        this.source = source;
        var header = new byte[RoutingTraceFile.HeaderSize];
        stream.ReadExactly(header);
        Header = RoutingTraceFile.DecodeHeader(header, source);
    }

    public RoutingTraceHeader Header { get; }

    public IEnumerable<TokenRoute> ReadAll()
    {
        int size = RoutingTraceFile.RecordSize(Header), idBytes = RoutingTraceFile.IdBytes(Header.NumExperts);
        var record = new byte[size];
        while (true)
        {
            int read = stream.ReadAtLeast(record, size, throwOnEndOfStream: false);
            if (read == 0) yield break;
            if (read < size) throw new InvalidDataException($"'{source}' ends inside a token record ({read} of {size} bytes): the file is truncated");
            var experts = new short[Header.ExpertsPerToken];
            for (int i = 0; i < experts.Length; i++)
                experts[i] = idBytes == 1 ? record[12 + i] : (short)BinaryPrimitives.ReadUInt16LittleEndian(record.AsSpan(12 + 2 * i));
            yield return new TokenRoute(
                (int)BinaryPrimitives.ReadUInt32LittleEndian(record),
                (int)BinaryPrimitives.ReadUInt32LittleEndian(record.AsSpan(4)),
                (int)BinaryPrimitives.ReadUInt32LittleEndian(record.AsSpan(8)),
                experts);
        }
    }

    public void Dispose() => stream.Dispose();
}
