namespace Kimad.Compression;

/// <summary>
/// IEEE half precision (fp16) on the wire, with a power-of-two scale so that neither large values overflow nor small ones
/// vanish: the vector is multiplied by 2^e with e = 14 - floor(log2 max|v_i|) (clamped to -127..127), which puts the largest
/// magnitude in [2^14, 2^15), and each value is rounded to the nearest half (ties to even). Scaling by a power of two is
/// exact, so the relative error of every value whose scaled magnitude is at least 2^-14 (half's smallest normal) is at most
/// 2^-11, and smaller values are within 2^-25 x 2^-e. Deterministic and contractive. Wire: header, e (1 signed byte), n halves.
/// </summary>
public sealed class HalfCompressor : ICompressor
{
    public CompressorKind Kind => CompressorKind.Half;
    public string Name => "fp16";
    public bool Unbiased => false;
    public int WireBytes(int length) => WireFormat.HeaderBytes + 1 + 2 * length;

    /// <summary>The scale exponent e for a vector whose largest magnitude is <paramref name="maxAbs"/> (0 for a zero vector).</summary>
    public static int ScaleExponent(float maxAbs) =>
        maxAbs > 0 && float.IsFinite(maxAbs) ? Math.Clamp(14 - (int)Math.Floor(Math.Log2(maxAbs)), -127, 127) : 0;

    public int Encode(ReadOnlySpan<float> vector, Span<byte> destination, Random random)
    {
        int n = vector.Length, size = WireBytes(n);
        WireFormat.CheckDestination(destination, size, Name);
        int o = WireFormat.WriteHeader(destination, Kind, n);
        float max = 0;
        for (int i = 0; i < n; i++)
        {
            if (!float.IsFinite(vector[i])) throw new ArgumentException($"fp16: element {i} is {vector[i]} (not finite)");
            max = MathF.Max(max, MathF.Abs(vector[i]));
        }
        int e = ScaleExponent(max);
        destination[o++] = unchecked((byte)(sbyte)e);
        double scale = Math.ScaleB(1.0, e);
        for (int i = 0; i < n; i++)
        {
            Half h = (Half)(vector[i] * scale);   // double -> Half: one rounding, to nearest even
            System.Buffers.Binary.BinaryPrimitives.WriteHalfLittleEndian(destination[(o + 2 * i)..], h);
        }
        return size;
    }

    /// <summary>Decodes the body (after the header) into <paramref name="destination"/>; returns false on a non-finite value.</summary>
    internal static bool DecodeBody(ReadOnlySpan<byte> body, Span<float> destination)
    {
        int e = (sbyte)body[0];
        double unscale = Math.ScaleB(1.0, -e);
        for (int i = 0; i < destination.Length; i++)
        {
            Half h = System.Buffers.Binary.BinaryPrimitives.ReadHalfLittleEndian(body[(1 + 2 * i)..]);
            if (!Half.IsFinite(h)) return false;
            destination[i] = (float)((double)h * unscale);
        }
        return true;
    }
}
