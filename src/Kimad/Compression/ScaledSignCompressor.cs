namespace Kimad.Compression;

/// <summary>
/// Scaled sign: C(v) = (||v||_1 / n) sign(v). Contractive, biased. Wire: header, scale (4 bytes), one bit per element.
/// </summary>
public sealed class ScaledSignCompressor : ICompressor
{
    public CompressorKind Kind => CompressorKind.ScaledSign;
    public string Name => "sign";
    public bool Unbiased => false;
    public int WireBytes(int length) => WireFormat.HeaderBytes + 4 + BitWriter.Bytes(length, 1);

    public int Encode(ReadOnlySpan<float> vector, Span<byte> destination, Random random)
    {
        int n = vector.Length, size = WireBytes(n);
        WireFormat.CheckDestination(destination, size, Name);
        int o = WireFormat.WriteHeader(destination, Kind, n);
        double l1 = 0;
        for (int i = 0; i < n; i++) l1 += MathF.Abs(vector[i]);
        WireFormat.WriteFloat(destination[o..], n == 0 ? 0f : (float)(l1 / n));
        o += 4;
        Span<byte> bits = destination.Slice(o, size - o);
        bits.Clear();
        for (int i = 0; i < n; i++)
            if (vector[i] < 0) bits[i >> 3] |= (byte)(1 << (i & 7));
        return size;
    }
}
