using System.Buffers.Binary;

namespace ExpertFlow.Tracing;

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
