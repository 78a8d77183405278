using System.Buffers.Binary;

namespace Kimad.Compression;

/// <summary>Little-endian primitives and the common 5-byte header (kind, element count).</summary>
internal static class WireFormat
{
    public const int HeaderBytes = 5;

    public static int WriteHeader(Span<byte> dst, CompressorKind kind, int length)
    {
        dst[0] = (byte)kind;
        BinaryPrimitives.WriteInt32LittleEndian(dst[1..], length);
        return HeaderBytes;
    }

    public static void WriteFloat(Span<byte> dst, float v) => BinaryPrimitives.WriteSingleLittleEndian(dst, v);
    public static void WriteInt(Span<byte> dst, int v) => BinaryPrimitives.WriteInt32LittleEndian(dst, v);
    public static float ReadFloat(ReadOnlySpan<byte> src) => BinaryPrimitives.ReadSingleLittleEndian(src);
    public static int ReadInt(ReadOnlySpan<byte> src) => BinaryPrimitives.ReadInt32LittleEndian(src);

    public static void CheckDestination(Span<byte> dst, int needed, string name)
    {
        if (dst.Length < needed) throw new ArgumentException($"{name}: destination has {dst.Length} bytes, the encoding needs {needed}");
    }
}

/// <summary>Packs fixed-width unsigned fields (up to 24 bits) into bytes, least significant bit first.</summary>
internal ref struct BitWriter(Span<byte> destination)
{
    readonly Span<byte> dst = destination;
    int bitPos;

    public void Write(uint value, int bits)
    {
        for (int i = 0; i < bits; i++)
        {
            if (((value >> i) & 1) != 0) dst[bitPos >> 3] |= (byte)(1 << (bitPos & 7));
            bitPos++;
        }
    }

    public static int Bytes(long fields, int bitsPerField) => (int)((fields * bitsPerField + 7) / 8);
}

/// <summary>Reads fields written by <see cref="BitWriter"/>.</summary>
internal ref struct BitReader(ReadOnlySpan<byte> source)
{
    readonly ReadOnlySpan<byte> src = source;
    int bitPos;

    public uint Read(int bits)
    {
        uint v = 0;
        for (int i = 0; i < bits; i++)
        {
            if ((src[bitPos >> 3] & (1 << (bitPos & 7))) != 0) v |= 1u << i;
            bitPos++;
        }
        return v;
    }
}
