using System.Runtime.InteropServices;

namespace Kimad.Compression;

/// <summary>No compression: header + 4 bytes per element.</summary>
public sealed class IdentityCompressor : ICompressor
{
    public CompressorKind Kind => CompressorKind.Identity;
    public string Name => "identity";
    public bool Unbiased => true;
    public int WireBytes(int length) => WireFormat.HeaderBytes + 4 * length;

    public int Encode(ReadOnlySpan<float> vector, Span<byte> destination, Random random)
    {
        int size = WireBytes(vector.Length);
        WireFormat.CheckDestination(destination, size, Name);
        int o = WireFormat.WriteHeader(destination, Kind, vector.Length);
        if (BitConverter.IsLittleEndian) MemoryMarshal.AsBytes(vector).CopyTo(destination[o..]);
        else for (int i = 0; i < vector.Length; i++) WireFormat.WriteFloat(destination[(o + 4 * i)..], vector[i]);
        return size;
    }
}
