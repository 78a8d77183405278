namespace Kimad.Compression;

/// <summary>
/// QSGD-style stochastic quantisation with s levels: each |v_i| / ||v||_2 is rounded stochastically to a
/// multiple of 1/s, so E[C(v)] = v. Wire: header, s (1 byte), norm (4 bytes), then per element a sign bit
/// and a level of ceil(log2(s + 1)) bits, packed.
/// <para>With <c>contractive</c> the norm field carries beta ||v|| instead, beta = ||v||^2 / (||v||^2 + V) with
/// V = sum_i (||v|| / s)^2 p_i (1 - p_i) the variance of the rounding (p_i the fractional part of s |v_i| / ||v||): the
/// decoder is unchanged, and E||C(v) - v||^2 = ||v||^2 V / (||v||^2 + V) &lt; ||v||^2, so the level is contractive for every
/// s (plain QSGD is not when V &gt; ||v||^2), as EF21 needs. <see cref="ExpectedError"/> gives that value.</para>
/// </summary>
public sealed class QsgdCompressor : ICompressor
{
    readonly bool contractive;

    public QsgdCompressor(int levels, bool contractive = false)
    {
        this.contractive = contractive;
        if (levels is < 1 or > 255) throw new ArgumentOutOfRangeException(nameof(levels), levels, "QSGD levels must be 1..255");
        Levels = levels;
        LevelBits = BitsFor(levels);
    }

    public int Levels { get; }
    internal int LevelBits { get; }
    public CompressorKind Kind => CompressorKind.Qsgd;
    public string Name => contractive ? $"qsgd-contractive:{Levels}" : $"qsgd:{Levels}";
    public bool Unbiased => !contractive;

    /// <summary>(||v||^2, V): the energy and the rounding variance of QSGD with <paramref name="levels"/> levels on <paramref name="vector"/>.</summary>
    public static (double Energy, double Variance) Moments(ReadOnlySpan<float> vector, int levels)
    {
        double sq = 0;
        foreach (float x in vector) sq += (double)x * x;
        double norm = (float)Math.Sqrt(sq), variance = 0, step = norm / levels;
        if (norm == 0) return (sq, 0);
        foreach (float x in vector)
        {
            double scaled = Math.Min(Math.Abs(x) / norm, 1.0) * levels, p = scaled - Math.Floor(scaled);
            variance += step * step * p * (1 - p);
        }
        return (sq, variance);
    }

    /// <summary>E||C(v) - v||^2: V for plain QSGD, ||v||^2 V / (||v||^2 + V) for the contractive form.</summary>
    public double ExpectedError(ReadOnlySpan<float> vector)
    {
        var (energy, variance) = Moments(vector, Levels);
        return contractive ? (energy + variance > 0 ? energy * variance / (energy + variance) : 0) : variance;
    }
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
        float written = norm;
        if (contractive)
        {
            var (energy, variance) = Moments(vector, Levels);
            written = energy + variance > 0 ? (float)(norm * (energy / (energy + variance))) : 0f;
        }
        WireFormat.WriteFloat(destination[o..], written);
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
