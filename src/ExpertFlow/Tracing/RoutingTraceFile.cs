using System.Buffers.Binary;

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

    /// <summary>
    /// Reads a trace's header and records. A missing file is a FileNotFoundException; a damaged one (bad header, truncated
    /// record, expert id outside the header's expert count) an InvalidDataException naming the file.
    /// </summary>
    public static (RoutingTraceHeader Header, List<TokenRoute> Routes) Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"routing trace '{path}' not found; record one with 'expertflow trace'", path);
        using var reader = new RoutingTraceReader(File.OpenRead(path), path);
        return (reader.Header, reader.ReadAll().ToList());
    }

    /// <summary>
    /// Groups records into sequences (by id, positions sorted); a missing or repeated position is an InvalidDataException
    /// naming <paramref name="source"/>.
    /// </summary>
    public static List<TracedSequence> ToSequences(IEnumerable<TokenRoute> routes, string source = "routing trace")
    {
        var result = new List<TracedSequence>();
        foreach (var group in routes.GroupBy(r => r.SequenceId))
        {
            var ordered = group.OrderBy(r => r.Position).ToArray();
            for (int i = 0; i < ordered.Length; i++)
                if (ordered[i].Position != i)
                    throw new InvalidDataException($"'{source}': sequence {group.Key} {(i > 0 && ordered[i].Position == i - 1 ? $"holds position {i - 1} twice" : $"lacks position {i}")}; record the trace again with 'expertflow trace'");
            result.Add(new TracedSequence(group.Key, ordered.Select(r => r.TokenId).ToArray(), ordered.Select(r => r.Experts).ToArray()));
        }
        return result;
    }

    /// <summary>Flattens sequences back into records.</summary>
    public static IEnumerable<TokenRoute> ToRoutes(IEnumerable<TracedSequence> sequences) =>
        sequences.SelectMany(s => s.TokenIds.Select((t, p) => new TokenRoute(s.SequenceId, p, t, s.Experts[p])));

    internal static byte[] EncodeHeader(RoutingTraceHeader h)
    {
        if (h.NumLayers is < 1 or > ushort.MaxValue || h.NumExperts is < 1 or > MaxExperts || h.TopK < 1 || h.TopK > h.NumExperts)
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

    /// <summary>Most experts per layer a trace can describe: expert ids are held as 16-bit signed values (<see cref="TokenRoute.Experts"/>).</summary>
    public const int MaxExperts = short.MaxValue + 1;

    /// <summary>Largest number of expert ids per token record (layers x top-k) accepted when reading.</summary>
    public const int MaxExpertsPerToken = 1 << 16;

    internal static RoutingTraceHeader DecodeHeader(ReadOnlySpan<byte> bytes, string source)
    {
        if (bytes.Length < HeaderSize || !bytes[..4].SequenceEqual(Magic))
            throw new InvalidDataException($"'{source}' is not a routing trace (expected magic \"EFRT\"); record one with 'expertflow trace'");
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(bytes[4..]);
        if (version != Version) throw new InvalidDataException($"'{source}': routing trace version {version}; this build reads version {Version}");
        var h = new RoutingTraceHeader(BinaryPrimitives.ReadUInt16LittleEndian(bytes[6..]), BinaryPrimitives.ReadUInt16LittleEndian(bytes[8..]), BinaryPrimitives.ReadUInt16LittleEndian(bytes[10..]));
        if (h.NumLayers < 1 || h.NumExperts < 1 || h.NumExperts > MaxExperts || h.TopK < 1 || h.TopK > h.NumExperts || h.ExpertsPerToken > MaxExpertsPerToken)
            throw new InvalidDataException($"'{source}': the header describes {h.NumLayers} MoE layers x {h.NumExperts} experts top-{h.TopK}, which no model has (damaged file); record the trace again with 'expertflow trace'");
        if (bytes[12] != IdBytes(h.NumExperts)) throw new InvalidDataException($"'{source}': expert id width {bytes[12]} does not match {h.NumExperts} experts");
        return h;
    }
}
