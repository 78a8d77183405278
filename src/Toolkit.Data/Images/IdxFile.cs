using System.Buffers.Binary;
using System.IO.Compression;

namespace Toolkit.Data.Images;

/// <summary>An unsigned-byte IDX array (the MNIST file format): its dimensions and its values, row-major.</summary>
public sealed record IdxArray(int[] Dimensions, byte[] Data)
{
    /// <summary>Number of items along the first dimension.</summary>
    public int Count => Dimensions[0];
}

/// <summary>
/// Reads IDX files (MNIST, Fashion-MNIST), gzip-compressed or raw. Validates the magic number, the
/// element type, the dimensions and that the payload holds exactly the declared number of values.
/// </summary>
public static class IdxFile
{
    const byte UnsignedByteType = 0x08;
    const int MaxDimensions = 4;

    /// <summary>Reads the file at <paramref name="path"/>; gzip is detected from the content, not the name.</summary>
    public static IdxArray Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"IDX file '{path}' does not exist.", path);
        using var file = File.OpenRead(path);
        try
        {
            return Read(file, path);
        }
        catch (InvalidDataException e) when (e.InnerException == null && !e.Message.StartsWith("IDX file", StringComparison.Ordinal))
        {
            // Thrown by the gzip decoder: a damaged archive.
            throw new InvalidDataException($"IDX file '{path}' is not a valid gzip stream ({e.Message}); download it again.", e);
        }
    }

    /// <summary>Reads from a stream; <paramref name="name"/> appears in error messages.</summary>
    public static IdxArray Read(Stream stream, string name)
    {
        var head = new byte[2];
        int got = ReadFully(stream, head);
        if (got < 2) throw Bad(name, "is shorter than an IDX header (4 bytes)");
        Stream content = new PrefixedStream(head, stream);
        if (head[0] == 0x1f && head[1] == 0x8b) content = new GZipStream(content, CompressionMode.Decompress);
        return ReadRaw(content, name);
    }

    static IdxArray ReadRaw(Stream s, string name)
    {
        var magic = new byte[4];
        if (ReadFully(s, magic) < 4) throw Bad(name, "is shorter than an IDX header (4 bytes)");
        if (magic[0] != 0 || magic[1] != 0)
            throw Bad(name, $"does not start with an IDX magic number (first bytes {magic[0]:x2} {magic[1]:x2}, expected 00 00); is it an IDX file?");
        if (magic[2] != UnsignedByteType)
            throw Bad(name, $"holds elements of type 0x{magic[2]:x2}; only unsigned bytes (0x08) are supported");
        int rank = magic[3];
        if (rank is < 1 or > MaxDimensions) throw Bad(name, $"declares {rank} dimensions; expected 1 to {MaxDimensions}");
        var dimsBytes = new byte[4 * rank];
        if (ReadFully(s, dimsBytes) < dimsBytes.Length) throw Bad(name, $"ends inside its header ({rank} dimension sizes expected)");
        var dims = new int[rank];
        long total = 1;
        for (int i = 0; i < rank; i++)
        {
            uint d = BinaryPrimitives.ReadUInt32BigEndian(dimsBytes.AsSpan(4 * i));
            if (d == 0 || d > int.MaxValue) throw Bad(name, $"declares size {d} for dimension {i}");
            dims[i] = (int)d;
            total *= d;
            if (total > Array.MaxLength) throw Bad(name, $"declares {string.Join(" x ", dims.Take(i + 1))} values, more than fit in memory");
        }
        var data = new byte[total];
        int read = ReadFully(s, data);
        if (read < total) throw Bad(name, $"is truncated: dimensions {string.Join(" x ", dims)} need {total} values but only {read} follow the header");
        if (s.ReadByte() >= 0) throw Bad(name, $"has data after the {total} values its header declares ({string.Join(" x ", dims)})");
        return new IdxArray(dims, data);
    }

    static InvalidDataException Bad(string name, string what) => new($"IDX file '{name}' {what}.");

    static int ReadFully(Stream s, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = s.Read(buffer[total..]);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    /// <summary>A stream that first returns bytes already read, then the rest of the inner stream.</summary>
    sealed class PrefixedStream(byte[] prefix, Stream inner) : Stream
    {
        int position;
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override int Read(Span<byte> buffer)
        {
            if (position < prefix.Length)
            {
                int n = Math.Min(buffer.Length, prefix.Length - position);
                prefix.AsSpan(position, n).CopyTo(buffer);
                position += n;
                return n;
            }
            return inner.Read(buffer);
        }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
