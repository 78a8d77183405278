namespace Kimad.Compression;

/// <summary>One candidate level of a layer in a round: its compressor, exact wire size and compression error
/// ||C(v) - v||^2 (measured for deterministic levels, the exact expectation for random ones).</summary>
public readonly record struct LevelOption(ICompressor Compressor, long Bytes, double Error);

/// <summary>
/// The compression levels Kimad and Kimad+ choose from, per layer: identity plus the levels of the chosen families.
/// <list type="bullet">
/// <item><c>topk</c>: TopK at the ratios of <see cref="CompressionLevels.Default"/>; errors from one sort per layer.</item>
/// <item><c>randk</c>: RandK at the same ratios in the contractive (unscaled) form; error (1 - k/n) ||v||^2 (expected).</item>
/// <item><c>qsgd</c>: QSGD with s = 1, 3, 7, 15, 31, 63, 127, 255 (2 to 9 bits per element), contractive form; expected error.</item>
/// <item><c>natural</c>: natural compression (9 bits per element); expected error.</item>
/// <item><c>sign</c>: scaled sign (1 bit per element); exact error.</item>
/// <item><c>fp16</c>, <c>bf16</c>: half-precision encodings (16 bits per element); exact error.</item>
/// <item><c>powersgd</c>: rank 1, 2, 4, 8, 16, 32 of the layer as a rows x cols matrix (those below min(rows, cols) and smaller
/// than the dense layer), one power iteration with a warm-started Q kept per layer; exact error. A 1-D layer (a bias) has
/// no low-rank levels and is sent dense, as PyTorch's PowerSGD hook does.</item>
/// <item><c>mixed</c>: topk, qsgd, natural, sign, fp16, bf16 and powersgd together (randk is left out: TopK's error is
/// never larger at the same size).</item>
/// </list>
/// Families combine with commas (<c>topk,fp16</c>). An instance holds the low-rank warm-start state of one sender
/// (one uplink or one downlink), so every sender has its own.
/// </summary>
public sealed class LevelSet
{
    public static readonly string[] Families = ["topk", "randk", "qsgd", "natural", "sign", "fp16", "bf16", "powersgd"];
    static readonly string[] MixedFamilies = ["topk", "qsgd", "natural", "sign", "fp16", "bf16", "powersgd"];
    public static readonly int[] QsgdLevels = [255, 127, 63, 31, 15, 7, 3, 1];
    public static readonly int[] Ranks = [1, 2, 4, 8, 16, 32];

    readonly HashSet<string> families;
    readonly IReadOnlyList<int>? rows;
    readonly int seed;
    readonly Dictionary<int, LowRankState?> lowRank = [];
    readonly double[] sparseRatios = CompressionLevels.Default.Where(r => r < 1).ToArray();

    /// <param name="spec">Families, comma-separated, or "mixed".</param>
    /// <param name="layerRows">Rows of each layer's matrix view (the first dimension of its tensor; 1 or null for 1-D).</param>
    /// <param name="seed">Seeds the low-rank warm start.</param>
    public LevelSet(string spec, IReadOnlyList<int>? layerRows = null, int seed = 0)
    {
        Spec = Normalize(spec);
        families = (Spec == "mixed" ? MixedFamilies : Spec.Split(',')).ToHashSet();
        rows = layerRows;
        this.seed = seed;
    }

    /// <summary>The set's canonical spelling ("topk", "fp16,topk", "mixed").</summary>
    public string Spec { get; }

    public bool IsTopKOnly => families.Count == 1 && families.Contains("topk");

    /// <summary>Checks and canonicalises a level-set spec; throws <see cref="ArgumentException"/> with the valid names.</summary>
    public static string Normalize(string spec)
    {
        var parts = (spec ?? "").ToLowerInvariant().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToList();
        if (parts.Count == 0) throw new ArgumentException("empty level set: use one or more of " + string.Join(", ", Families) + ", or mixed");
        if (parts.Contains("mixed")) return parts.Count == 1 ? "mixed" : throw new ArgumentException("'mixed' already holds every family; use it alone");
        foreach (var p in parts)
            if (!Families.Contains(p)) throw new ArgumentException($"unknown level family '{p}': use {string.Join(", ", Families)} (comma-separated) or mixed");
        return string.Join(",", parts.Order(StringComparer.Ordinal));
    }

    /// <summary>Every level of layer <paramref name="layer"/> (identity first) with its size and error on <paramref name="v"/>.</summary>
    public List<LevelOption> Profile(int layer, ReadOnlySpan<float> v)
    {
        int n = v.Length;
        var identity = new IdentityCompressor();
        var options = new List<LevelOption> { new(identity, identity.WireBytes(n), 0) };
        double energy = 0;
        foreach (float x in v) energy += (double)x * x;
        if (n == 0) return options;
        if (families.Contains("topk"))
        {
            var errors = new double[sparseRatios.Length];
            CompressionLevels.Errors(v, sparseRatios, errors);
            for (int j = 0; j < sparseRatios.Length; j++)
            {
                var c = new TopKCompressor(sparseRatios[j]);
                options.Add(new(c, c.WireBytes(n), errors[j]));
            }
        }
        if (families.Contains("randk"))
            foreach (double r in sparseRatios)
            {
                var c = new RandKCompressor(r, unbiased: false);
                options.Add(new(c, c.WireBytes(n), (1 - (double)Compressors.KeptCount(r, n) / n) * energy));
            }
        if (families.Contains("qsgd"))
            foreach (int s in QsgdLevels)
            {
                var c = new QsgdCompressor(s, contractive: true);
                options.Add(new(c, c.WireBytes(n), c.ExpectedError(v)));
            }
        if (families.Contains("natural"))
        {
            var c = new NaturalCompressor();
            options.Add(new(c, c.WireBytes(n), NaturalCompressor.ExpectedError(v)));
        }
        if (families.Contains("sign"))
        {
            var c = new ScaledSignCompressor();
            double l1 = 0;
            foreach (float x in v) l1 += MathF.Abs(x);
            double scale = (float)(l1 / n);   // the scale as the wire carries it
            options.Add(new(c, c.WireBytes(n), Math.Max(0, energy - 2 * scale * l1 + n * scale * scale)));
        }
        if (families.Contains("fp16")) options.Add(Measured(new HalfCompressor(), v));
        if (families.Contains("bf16")) options.Add(Measured(new BFloat16Compressor(), v));
        if (families.Contains("powersgd") && LowRank(layer, n) is { } state)
        {
            var ranks = Ranks.Where(r => r <= state.MaxRank && LowRankCompressor.Bytes(state.Rows, state.Cols, r) < identity.WireBytes(n)).ToArray();
            if (ranks.Length > 0)
            {
                var errors = new double[ranks.Length];
                LowRankCompressor.Errors(v, state, ranks, errors);
                for (int j = 0; j < ranks.Length; j++)
                    options.Add(new(new LowRankCompressor(ranks[j], state), LowRankCompressor.Bytes(state.Rows, state.Cols, ranks[j]), errors[j]));
            }
        }
        return options;
    }

    /// <summary>The low-rank state of a layer, or null when the layer is not a matrix (1-D, or rows not dividing its length).</summary>
    public LowRankState? LowRank(int layer, int length)
    {
        if (lowRank.TryGetValue(layer, out var s) && (s is null || s.Rows * s.Cols == length)) return s;
        int m = rows is not null && layer < rows.Count ? rows[layer] : 1;
        s = m > 1 && m < length && length % m == 0 ? new LowRankState(m, length / m, Ranks.Max(), unchecked(seed * 1_000_003 + layer)) : null;
        lowRank[layer] = s;
        return s;
    }

    static LevelOption Measured(ICompressor c, ReadOnlySpan<float> v)
    {
        var back = new float[v.Length];
        WireCodec.Apply(c, v, back, Random.Shared);
        double err = 0;
        for (int i = 0; i < v.Length; i++) { double d = (double)back[i] - v[i]; err += d * d; }
        return new(c, c.WireBytes(v.Length), err);
    }
}
