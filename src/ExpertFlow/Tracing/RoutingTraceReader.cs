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
        int read = stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        if (read < header.Length)
            throw new InvalidDataException($"'{source}' is {read} bytes, shorter than a routing trace's {header.Length}-byte header; record the trace again with 'expertflow trace'");
        Header = RoutingTraceFile.DecodeHeader(header, source);
    }

    public RoutingTraceHeader Header { get; }

    /// <summary>The records in file order; a truncated record or an out-of-range field is an InvalidDataException naming the source.</summary>
    public IEnumerable<TokenRoute> ReadAll()
    {
        int size = RoutingTraceFile.RecordSize(Header), idBytes = RoutingTraceFile.IdBytes(Header.NumExperts);
        var record = new byte[size];
        for (long index = 0; ; index++)
        {
            int read = stream.ReadAtLeast(record, size, throwOnEndOfStream: false);
            if (read == 0) yield break;
            if (read < size) throw new InvalidDataException($"'{source}' ends inside token record {index} ({read} of {size} bytes): the file is truncated; record the trace again with 'expertflow trace'");
            var experts = new short[Header.ExpertsPerToken];
            for (int i = 0; i < experts.Length; i++)
            {
                int e = idBytes == 1 ? record[12 + i] : BinaryPrimitives.ReadUInt16LittleEndian(record.AsSpan(12 + 2 * i));
                if (e >= Header.NumExperts)
                    throw new InvalidDataException($"'{source}': token record {index} names expert {e} in MoE layer {i / Header.TopK}, but the trace has {Header.NumExperts} experts (damaged file); record the trace again with 'expertflow trace'");
                experts[i] = (short)e;
            }
            yield return new TokenRoute(Field(record, 0, "sequence id", index), Field(record, 4, "position", index), Field(record, 8, "token id", index), experts);
        }
    }

    /// <summary>A u32 field that must fit an int (the writer stores non-negative ints).</summary>
    int Field(byte[] record, int offset, string name, long index)
    {
        uint value = BinaryPrimitives.ReadUInt32LittleEndian(record.AsSpan(offset));
        return value <= int.MaxValue ? (int)value
            : throw new InvalidDataException($"'{source}': token record {index} has {name} {value}, beyond {int.MaxValue} (damaged file); record the trace again with 'expertflow trace'");
    }

    public void Dispose() => stream.Dispose();
}
