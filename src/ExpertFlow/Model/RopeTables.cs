using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>
/// RoPE tables computed as transformers does: inverse frequencies in fp32 (default, linear, dynamic NTK, YaRN or llama3,
/// see <see cref="RopeScaling"/>), angle = position * inv_freq, cos/sin in fp32 of [angle, angle] times the attention
/// factor (YaRN), cast to the compute dtype where used. The tables cover the positions the KV caches need so far (at
/// least <see cref="InitialPositions"/>, at most max_position_embeddings) and grow with them: a config may declare
/// millions of positions, which would cost gigabytes if tabulated up front. Dynamic NTK changes the frequencies with the
/// length of the step (<see cref="Rows"/>), as transformers' dynamic update does for a growing sequence.
/// </summary>
internal sealed class RopeTables : IDisposable
{
    /// <summary>Positions tabulated at load (the whole range when the model declares fewer).</summary>
    public const int InitialPositions = 4096;

    readonly int headDim, maxPositions, trainedPositions;
    readonly double theta;
    readonly RopeScaling scaling;
    readonly Device device;
    readonly Tensor invFreq;

    public Tensor Cos { get; private set; }
    public Tensor Sin { get; private set; }
    /// <summary>Positions covered now.</summary>
    public int Positions { get; private set; }
    /// <summary>cos and sin are multiplied by this (YaRN's attention factor; 1 otherwise).</summary>
    public double AttentionScaling { get; }
    /// <summary>True when the frequencies depend on the step's sequence length (dynamic NTK): use <see cref="Rows"/>.</summary>
    public bool LengthDependent => scaling.Kind == RopeKind.Dynamic;

    public RopeTables(int headDim, double theta, int maxPositions, Device device) : this(headDim, theta, RopeScaling.None, maxPositions, device) { }

    /// <summary>Tables of a RoPE variant; <paramref name="maxPositions"/> (max_position_embeddings) caps them, except for dynamic NTK, where it is the trained context.</summary>
    public RopeTables(int headDim, double theta, RopeScaling scaling, int maxPositions, Device device)
    {
        (this.headDim, this.theta, this.scaling, this.device) = (headDim, theta, scaling, device);
        trainedPositions = maxPositions;
        this.maxPositions = scaling.Kind == RopeKind.Dynamic ? int.MaxValue : maxPositions;
        (invFreq, AttentionScaling) = InverseFrequencies(headDim, theta, scaling, maxPositions, device);
        invFreq = invFreq.DetachFromDisposeScope();
        (Cos, Sin) = Build(invFreq, 0, Positions = Math.Min(this.maxPositions, InitialPositions));
    }

    /// <summary>The fp32 inverse frequencies [headDim/2] and the attention factor of a RoPE variant (transformers' formulas).</summary>
    internal static (Tensor InvFreq, double AttentionScaling) InverseFrequencies(int dim, double theta, RopeScaling s, int maxPositions, Device device, long? seqLen = null)
    {
        using var scope = NewDisposeScope();
        var exponents = arange(0, dim, 2, ScalarType.Int64, device).to(ScalarType.Float32) / dim;
        Tensor Plain(double b) => 1.0f / tensor((float)b, ScalarType.Float32, device).pow(exponents);
        Tensor inv;
        double attention = 1;
        switch (s.Kind)
        {
            case RopeKind.Default:
                inv = Plain(theta);
                break;
            case RopeKind.Linear:
                inv = Plain(theta) / s.Factor;
                break;
            case RopeKind.Dynamic:
            {
                double len = seqLen is long l && l > maxPositions ? l : maxPositions;
                double b = theta * Math.Pow(s.Factor * len / maxPositions - (s.Factor - 1), dim / (dim - 2.0));
                inv = Plain(b);
                break;
            }
            case RopeKind.Yarn:
            {
                int original = s.OriginalMaxPositions ?? maxPositions;
                double factor = s.Factor;
                attention = s.AttentionFactor ?? (s.Mscale is double m && s.MscaleAllDim is double mad && m != 0 && mad != 0
                    ? RopeScaling.YarnMscale(factor, m) / RopeScaling.YarnMscale(factor, mad)
                    : RopeScaling.YarnMscale(factor));
                double CorrectionDim(double rotations) => dim * Math.Log(original / (rotations * 2 * Math.PI)) / (2 * Math.Log(theta));
                double low = CorrectionDim(s.BetaFast), high = CorrectionDim(s.BetaSlow);
                if (s.Truncate) (low, high) = (Math.Floor(low), Math.Ceiling(high));
                (low, high) = (Math.Max(low, 0), Math.Min(high, dim - 1));
                if (low == high) high += 0.001;
                var posFreqs = tensor((float)theta, ScalarType.Float32, device).pow(exponents);
                var extrapolation = 1.0f / posFreqs;
                var interpolation = 1.0f / (posFreqs * factor);
                var ramp = ((arange(0, dim / 2, 1, ScalarType.Float32, device) - low) / (high - low)).clamp(0, 1);
                var extrapolationShare = 1 - ramp;
                inv = interpolation * (1 - extrapolationShare) + extrapolation * extrapolationShare;
                break;
            }
            case RopeKind.Llama3:
            {
                double old = s.OriginalMaxPositions ?? maxPositions;
                double lowWavelen = old / s.LowFreqFactor, highWavelen = old / s.HighFreqFactor;
                var plain = Plain(theta);
                var wavelen = 2 * Math.PI / plain;
                var llama = where(wavelen > lowWavelen, plain / s.Factor, plain);
                var smooth = (old / wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
                var smoothed = (1 - smooth) * llama / s.Factor + smooth * llama;
                var medium = (wavelen < highWavelen).logical_not().logical_and((wavelen > lowWavelen).logical_not());
                inv = where(medium, smoothed, llama);
                break;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(s), s.Kind, "unknown RoPE kind");
        }
        return (inv.to(ScalarType.Float32).MoveToOuterDisposeScope(), attention);
    }

    /// <summary>
    /// Makes the tables cover <paramref name="positions"/> positions (doubling, capped at max_position_embeddings). True when
    /// they were rebuilt: anything holding the old tensors (captured CUDA graphs) must let go of them.
    /// </summary>
    public bool EnsureCovers(int positions)
    {
        if (positions <= Positions) return false;
        int target = (int)Math.Min(maxPositions, Math.Max(positions, 2L * Positions));
        var (cos, sin) = Build(invFreq, 0, target);
        Cos.Dispose();
        Sin.Dispose();
        (Cos, Sin, Positions) = (cos, sin, target);
        return true;
    }

    /// <summary>
    /// cos and sin [N, headDim] (fp32) of the flat positions <paramref name="flatPositions"/> in a step whose longest
    /// sequence spans <paramref name="seqLen"/> positions: rows of the tables, or for dynamic NTK past the trained
    /// context, computed with the frequencies of that length.
    /// </summary>
    public (Tensor Cos, Tensor Sin) Rows(Tensor flatPositions, long seqLen)
    {
        if (!LengthDependent || seqLen <= trainedPositions) return (Cos.index_select(0, flatPositions), Sin.index_select(0, flatPositions));
        var (inv, _) = InverseFrequencies(headDim, theta, scaling, trainedPositions, device, seqLen);
        var freqs = flatPositions.to(ScalarType.Float32).unsqueeze(1) * inv.unsqueeze(0);
        var emb = cat([freqs, freqs], -1);
        return (emb.cos(), emb.sin());
    }

    (Tensor Cos, Tensor Sin) Build(Tensor inv, int first, int positions)
    {
        using var scope = NewDisposeScope();
        var pos = arange(first, positions, 1, ScalarType.Int64, device).to(ScalarType.Float32);
        var freqs = pos.unsqueeze(1) * inv.unsqueeze(0);
        var emb = cat([freqs, freqs], -1);
        Tensor cos = emb.cos(), sin = emb.sin();
        if (AttentionScaling != 1) { cos = cos * AttentionScaling; sin = sin * AttentionScaling; }
        return (cos.DetachFromDisposeScope(), sin.DetachFromDisposeScope());
    }

    public void Dispose()
    {
        Cos.Dispose();
        Sin.Dispose();
        invFreq.Dispose();
    }
}
