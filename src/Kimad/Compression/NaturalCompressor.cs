namespace Kimad.Compression;

/// <summary>
/// Natural compression (Horvath et al.): each value is rounded stochastically to one of the two nearest
/// powers of two, unbiased. Wire: header, then 9 bits per element (sign, 8-bit float32 exponent; exponent 0
/// means zero). Subnormal inputs are rounded the same way between 0 and the smallest normal power.
/// </summary>
public sealed class NaturalCompressor : ICompressor
{
    public CompressorKind Kind => CompressorKind.Natural;
    public string Name => "natural";
    public bool Unbiased => true;
    public int WireBytes(int length) => WireFormat.HeaderBytes + BitWriter.Bytes(length, 9);

    public int Encode(ReadOnlySpan<float> vector, Span<byte> destination, Random random)
    {
        int n = vector.Length, size = WireBytes(n);
        WireFormat.CheckDestination(destination, size, Name);
        int o = WireFormat.WriteHeader(destination, Kind, n);
        Span<byte> body = destination.Slice(o, size - o);
        body.Clear();
        var writer = new BitWriter(body);
        for (int i = 0; i < n; i++)
        {
            float v = vector[i];
            uint bits = BitConverter.SingleToUInt32Bits(v);
            uint sign = bits >> 31, exponent = (bits >> 23) & 0xFF, mantissa = bits & 0x7FFFFF;
            if (exponent == 0xFF) throw new ArgumentException($"natural compression: element {i} is {v} (not finite)");
            if (exponent == 0)
            {
                // Subnormal or zero: round to 0 or 2^-126 (exponent 1) with the unbiased probability.
                double p = Math.Abs((double)v) / Math.Pow(2, -126);
                exponent = random.NextDouble() < p ? 1u : 0u;
            }
            else if (mantissa != 0)
            {
                // |v| = 2^e (1 + m), m in (0, 1): round up to 2^(e+1) with probability m.
                double m = mantissa / (double)(1 << 23);
                if (random.NextDouble() < m) exponent++;
                if (exponent == 0xFF) exponent = 0xFE; // would overflow to infinity; the largest power is kept (biased only at float max)
            }
            writer.Write(sign, 1);
            writer.Write(exponent, 8);
        }
        return size;
    }

    /// <summary>E||C(v) - v||^2 = sum_i 4^e_i m_i (1 - m_i) for |v_i| = 2^e_i (1 + m_i) (at most ||v||^2 / 8: contractive).</summary>
    public static double ExpectedError(ReadOnlySpan<float> vector)
    {
        double total = 0;
        foreach (float v in vector)
        {
            double a = Math.Abs((double)v);
            if (a == 0) continue;
            uint exponent = (BitConverter.SingleToUInt32Bits(v) >> 23) & 0xFF;
            double low = exponent == 0 ? 0 : Math.ScaleB(1.0, (int)exponent - 127), high = exponent == 0 ? Math.ScaleB(1.0, -126) : 2 * low;
            if (exponent == 0xFE) { total += (a - low) * (a - low); continue; }   // the largest binade is never rounded up (see Encode)
            total += (high - a) * (a - low);
        }
        return total;
    }

    internal static float Value(uint sign, uint exponent) => exponent == 0 ? 0f : BitConverter.UInt32BitsToSingle((sign << 31) | (exponent << 23));
}
