namespace Kimad.Compression;

/// <summary>Wire identifiers of the compressors; the first byte of every encoded vector.</summary>
public enum CompressorKind : byte
{
    Identity = 0,
    TopK = 1,
    RandK = 2,
    ScaledSign = 3,
    Qsgd = 4,
    Natural = 5,
    Half = 6,
    BFloat16 = 7,
    LowRank = 8,
}

/// <summary>
/// A gradient compressor with an exact wire format. <see cref="WireBytes"/> is the exact number of bytes
/// <see cref="Encode"/> writes (kind, length, parameters, scales, indices and values all counted);
/// <see cref="WireCodec.Decode"/> turns any encoding back into a dense vector.
/// </summary>
public interface ICompressor
{
    CompressorKind Kind { get; }

    /// <summary>Short name for logs and plots, e.g. "topk:0.01".</summary>
    string Name { get; }

    /// <summary>Exact encoded size of a vector of <paramref name="length"/> elements.</summary>
    int WireBytes(int length);

    /// <summary>Encodes <paramref name="vector"/> into <paramref name="destination"/>; returns the bytes written (= WireBytes).</summary>
    int Encode(ReadOnlySpan<float> vector, Span<byte> destination, Random random);

    /// <summary>True when E[C(v)] = v (RandK, QSGD, natural, identity).</summary>
    bool Unbiased { get; }
}

/// <summary>Factory for compressors from their short names.</summary>
public static class Compressors
{
    /// <summary>
    /// Parses "identity", "topk:RATIO", "randk:RATIO", "sign", "qsgd:LEVELS", "natural", "fp16", "bf16".
    /// RATIO is the kept fraction in (0, 1]. (Low rank needs a matrix shape and warm-start state: see <see cref="LowRankCompressor"/>.)
    /// </summary>
    public static ICompressor Parse(string spec)
    {
        string[] parts = spec.Trim().ToLowerInvariant().Split(':');
        double Ratio() => parts.Length == 2 && double.TryParse(parts[1], System.Globalization.CultureInfo.InvariantCulture, out double r) && r > 0 && r <= 1
            ? r : throw new ArgumentException($"compressor '{spec}': expected a ratio in (0, 1] after ':', e.g. topk:0.01");
        return parts[0] switch
        {
            "identity" or "none" => new IdentityCompressor(),
            "topk" => new TopKCompressor(Ratio()),
            "randk" => new RandKCompressor(Ratio()),
            "sign" => new ScaledSignCompressor(),
            "qsgd" => parts.Length == 2 && int.TryParse(parts[1], out int s) && s is >= 1 and <= 255
                ? new QsgdCompressor(s) : throw new ArgumentException($"compressor '{spec}': expected qsgd:LEVELS with 1..255 levels"),
            "natural" => new NaturalCompressor(),
            "fp16" or "half" => new HalfCompressor(),
            "bf16" or "bfloat16" => new BFloat16Compressor(),
            _ => throw new ArgumentException($"unknown compressor '{spec}': use identity, topk:R, randk:R, sign, qsgd:S, natural, fp16 or bf16"),
        };
    }

    /// <summary>
    /// The level a compressor stands for on a layer of <paramref name="length"/> elements, for metrics and plots: the kept
    /// fraction for TopK and RandK, 1 for identity, otherwise the message size relative to float32 (fp16 and bf16 about 0.5,
    /// sign about 1/32, low rank r (m + c) / (m c)).
    /// </summary>
    public static double LevelRatio(ICompressor compressor, int length) => compressor switch
    {
        IdentityCompressor => 1,
        TopKCompressor t => t.Ratio,
        RandKCompressor r => r.Ratio,
        _ => length == 0 ? 1 : Math.Min(1, (double)(compressor.WireBytes(length) - WireFormat.HeaderBytes) / (4.0 * length)),
    };

    /// <summary>Number of kept elements for a ratio: at least 1, at most the length.</summary>
    public static int KeptCount(double ratio, int length) => length == 0 ? 0 : Math.Clamp((int)Math.Ceiling(ratio * length), 1, length);
}
