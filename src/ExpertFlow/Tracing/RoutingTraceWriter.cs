using System.Buffers.Binary;

namespace ExpertFlow.Tracing;

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
