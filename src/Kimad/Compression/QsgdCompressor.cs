namespace Kimad.Compression;

/// <summary>
/// QSGD-style stochastic quantisation with s levels: each |v_i| / ||v||_2 is rounded stochastically to a
/// multiple of 1/s, so E[C(v)] = v. Wire: header, s (1 byte), norm (4 bytes), then per element a sign bit
/// and a level of ceil(log2(s + 1)) bits, packed.
/// </summary>
public sealed class QsgdCompressor : ICompressor
{
    public QsgdCompressor(int levels)
    {
        if (levels is < 1 or > 255) throw new ArgumentOutOfRangeException(nameof(levels), levels, "QSGD levels must be 1..255");
        Levels = levels;
        LevelBits = BitsFor(levels);
    }

    public int Levels { get; }
    internal int LevelBits { get; }
    public CompressorKind Kind => CompressorKind.Qsgd;
    public string Name => $"qsgd:{Levels}";
    public bool Unbiased => true;
    public int WireBytes(int length) => WireFormat.HeaderBytes + 1 + 4 + BitWriter.Bytes(length, 1 + LevelBits);

    internal static int BitsFor(int levels) => 32 - System.Numerics.BitOperations.LeadingZeroCount((uint)levels);

    public int Encode(ReadOnlySpan<float> vector, Span<byte> destination, Random random)
    {
        int n = vector.Length, size = WireBytes(n);
        WireFormat.CheckDestination(destination, size, Name);
        int o = WireFormat.WriteHeader(destination, Kind, n);
        destination[o++] = (byte)Levels;
        double sq = 0;
        for (int i = 0; i < n; i++) sq += (double)vector[i] * vector[i];
        float norm = (float)Math.Sqrt(sq);
        WireFormat.WriteFloat(destination[o..], norm);
        o += 4;
        Span<byte> body = destination.Slice(o, size - o);
        body.Clear();
        var writer = new BitWriter(body);
        for (int i = 0; i < n; i++)
        {
            uint level = 0;
            if (norm > 0)
            {
                double scaled = Math.Min(Math.Abs(vector[i]) / norm, 1.0) * Levels;
                double floor = Math.Floor(scaled);
                level = (uint)floor + (random.NextDouble() < scaled - floor ? 1u : 0u);
                if (level > Levels) level = (uint)Levels;
            }
            writer.Write(vector[i] < 0 ? 1u : 0u, 1);
            writer.Write(level, LevelBits);
        }
        return size;
    }
}
