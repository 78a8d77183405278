using System.Buffers.Binary;

namespace Kimad.Compression;

/// <summary>
/// bfloat16 on the wire: the upper 16 bits of each float32 (sign, the full 8-bit exponent, 7 mantissa bits), rounded to
/// nearest with ties to even; a finite value that would round up to infinity is truncated to the largest finite bfloat16
/// instead. Same range as float32, so no scale: relative error at most 2^-8 for normal values. Deterministic and
/// contractive. Wire: header, n 16-bit values.
/// </summary>
public sealed class BFloat16Compressor : ICompressor
{
    public CompressorKind Kind => CompressorKind.BFloat16;
    public string Name => "bf16";
    public bool Unbiased => false;
    public int WireBytes(int length) => WireFormat.HeaderBytes + 2 * length;

    /// <summary>float32 to bfloat16 bits, round to nearest even (finite inputs stay finite).</summary>
    public static ushort ToBits(float v)
    {
        uint bits = BitConverter.SingleToUInt32Bits(v);
        uint rounded = bits + 0x7FFFu + ((bits >> 16) & 1u);
        if (((rounded >> 23) & 0xFF) == 0xFF && ((bits >> 23) & 0xFF) != 0xFF) rounded = bits;   // would become infinity: truncate
        return (ushort)(rounded >> 16);
    }

    /// <summary>bfloat16 bits to float32 (exact).</summary>
    public static float FromBits(ushort b) => BitConverter.UInt32BitsToSingle((uint)b << 16);

    public int Encode(ReadOnlySpan<float> vector, Span<byte> destination, Random random)
    {
        int n = vector.Length, size = WireBytes(n);
        WireFormat.CheckDestination(destination, size, Name);
        int o = WireFormat.WriteHeader(destination, Kind, n);
        for (int i = 0; i < n; i++)
        {
            if (!float.IsFinite(vector[i])) throw new ArgumentException($"bf16: element {i} is {vector[i]} (not finite)");
            BinaryPrimitives.WriteUInt16LittleEndian(destination[(o + 2 * i)..], ToBits(vector[i]));
        }
        return size;
    }
}
