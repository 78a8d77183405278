namespace Kimad.Compression;

/// <summary>Decodes any compressor's encoding back to a dense vector, validating everything it reads.</summary>
public static class WireCodec
{
    /// <summary>
    /// Decodes one encoded vector at the start of <paramref name="source"/> into <paramref name="destination"/>
    /// (whose length must equal the encoded element count); returns the bytes consumed.
    /// Throws <see cref="InvalidDataException"/> on anything malformed.
    /// </summary>
    public static int Decode(ReadOnlySpan<byte> source, Span<float> destination, string what = "vector")
    {
        if (source.Length < WireFormat.HeaderBytes) throw Bad(what, $"{source.Length} bytes left, a header needs {WireFormat.HeaderBytes}");
        var kind = (CompressorKind)source[0];
        int n = WireFormat.ReadInt(source[1..]);
        if (n != destination.Length) throw Bad(what, $"has {n} elements, expected {destination.Length} (wrong shape)");
        int o = WireFormat.HeaderBytes;
        switch (kind)
        {
            case CompressorKind.Identity:
                {
                    int size = o + 4 * n;
                    Need(source, size, what);
                    for (int i = 0; i < n; i++) destination[i] = Finite(WireFormat.ReadFloat(source[(o + 4 * i)..]), what);
                    return size;
                }
            case CompressorKind.TopK:
            case CompressorKind.RandK:
                {
                    Need(source, o + 4, what);
                    int k = WireFormat.ReadInt(source[o..]);
                    if (k < 0 || k > n) throw Bad(what, $"sparse count {k} outside 0..{n}");
                    int size = TopKCompressor.SparseWireBytes(k);
                    Need(source, size, what);
                    destination.Clear();
                    int idxBase = o + 4, valBase = idxBase + 4 * k;
                    for (int j = 0; j < k; j++)
                    {
                        int idx = WireFormat.ReadInt(source[(idxBase + 4 * j)..]);
                        if ((uint)idx >= (uint)n) throw Bad(what, $"index {idx} outside 0..{n - 1}");
                        destination[idx] = Finite(WireFormat.ReadFloat(source[(valBase + 4 * j)..]), what);
                    }
                    return size;
                }
            case CompressorKind.ScaledSign:
                {
                    int size = new ScaledSignCompressor().WireBytes(n);
                    Need(source, size, what);
                    float scale = Finite(WireFormat.ReadFloat(source[o..]), what);
                    ReadOnlySpan<byte> bits = source[(o + 4)..];
                    for (int i = 0; i < n; i++) destination[i] = (bits[i >> 3] & (1 << (i & 7))) != 0 ? -scale : scale;
                    return size;
                }
            case CompressorKind.Qsgd:
                {
                    Need(source, o + 5, what);
                    int levels = source[o];
                    if (levels == 0) throw Bad(what, "QSGD with 0 levels");
                    var q = new QsgdCompressor(levels);
                    int size = q.WireBytes(n);
                    Need(source, size, what);
                    float norm = Finite(WireFormat.ReadFloat(source[(o + 1)..]), what);
                    var reader = new BitReader(source[(o + 5)..]);
                    for (int i = 0; i < n; i++)
                    {
                        uint sign = reader.Read(1), level = reader.Read(q.LevelBits);
                        if (level > levels) throw Bad(what, $"QSGD level {level} above {levels}");
                        float mag = norm * level / levels;
                        destination[i] = sign != 0 ? -mag : mag;
                    }
                    return size;
                }
            case CompressorKind.Natural:
                {
                    int size = new NaturalCompressor().WireBytes(n);
                    Need(source, size, what);
                    var reader = new BitReader(source[o..]);
                    for (int i = 0; i < n; i++)
                    {
                        uint sign = reader.Read(1), exponent = reader.Read(8);
                        if (exponent == 0xFF) throw Bad(what, "natural compression exponent 255 (infinity)");
                        destination[i] = NaturalCompressor.Value(sign, exponent);
                    }
                    return size;
                }
            case CompressorKind.Half:
                {
                    int size = new HalfCompressor().WireBytes(n);
                    Need(source, size, what);
                    if (!HalfCompressor.DecodeBody(source[o..size], destination)) throw Bad(what, "contains a half-precision NaN or infinity");
                    return size;
                }
            case CompressorKind.BFloat16:
                {
                    int size = new BFloat16Compressor().WireBytes(n);
                    Need(source, size, what);
                    for (int i = 0; i < n; i++)
                        destination[i] = Finite(BFloat16Compressor.FromBits(System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(source[(o + 2 * i)..])), what);
                    return size;
                }
            case CompressorKind.LowRank:
                return LowRankCompressor.Decode(source, destination, detail => Bad(what, detail));
            default:
                throw Bad(what, $"unknown compressor kind {(byte)kind}");
        }
    }

    static void Need(ReadOnlySpan<byte> source, int size, string what)
    {
        if (source.Length < size) throw Bad(what, $"truncated: {source.Length} bytes, the encoding needs {size}");
    }

    static float Finite(float v, string what) => float.IsFinite(v) ? v : throw Bad(what, $"contains {v}");

    static InvalidDataException Bad(string what, string detail) => new($"malformed {what}: {detail}");

    /// <summary>C(v) as a dense vector: encode then decode (for error measurements and tests).</summary>
    public static void Apply(ICompressor compressor, ReadOnlySpan<float> vector, Span<float> result, Random random)
    {
        byte[] rented = System.Buffers.ArrayPool<byte>.Shared.Rent(compressor.WireBytes(vector.Length));
        try
        {
            int size = compressor.Encode(vector, rented, random);
            Decode(rented.AsSpan(0, size), result);
        }
        finally { System.Buffers.ArrayPool<byte>.Shared.Return(rented); }
    }
}
