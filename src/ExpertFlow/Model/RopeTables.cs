using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>
/// Default RoPE tables, computed as transformers does: inv_freq = 1 / theta^(2i/d) in fp32, angle = position * inv_freq,
/// cos/sin in fp32 of [angle, angle], cast to the compute dtype where used. The tables cover the positions the KV caches
/// need so far (at least <see cref="InitialPositions"/>, at most max_position_embeddings) and grow with them: a config
/// may declare millions of positions, which would cost gigabytes if tabulated up front.
/// </summary>
internal sealed class RopeTables : IDisposable
{
    /// <summary>Positions tabulated at load (the whole range when the model declares fewer).</summary>
    public const int InitialPositions = 4096;

    readonly int headDim, maxPositions;
    readonly double theta;
    readonly Device device;

    public Tensor Cos { get; private set; }
    public Tensor Sin { get; private set; }
    /// <summary>Positions covered now.</summary>
    public int Positions { get; private set; }

    public RopeTables(int headDim, double theta, int maxPositions, Device device)
    {
        (this.headDim, this.theta, this.maxPositions, this.device) = (headDim, theta, maxPositions, device);
        (Cos, Sin) = Build(Positions = Math.Min(maxPositions, InitialPositions));
    }

    /// <summary>
    /// Makes the tables cover <paramref name="positions"/> positions (doubling, capped at max_position_embeddings). True when
    /// they were rebuilt: anything holding the old tensors (captured CUDA graphs) must let go of them.
    /// </summary>
    public bool EnsureCovers(int positions)
    {
        if (positions <= Positions) return false;
        int target = (int)Math.Min(maxPositions, Math.Max(positions, 2L * Positions));
        var (cos, sin) = Build(target);
        Cos.Dispose();
        Sin.Dispose();
        (Cos, Sin, Positions) = (cos, sin, target);
        return true;
    }

    (Tensor Cos, Tensor Sin) Build(int positions)
    {
        using var scope = NewDisposeScope();
        var exponents = arange(0, headDim, 2, ScalarType.Int64, device).to(ScalarType.Float32) / headDim;
        var invFreq = 1.0f / tensor((float)theta, ScalarType.Float32, device).pow(exponents);
        var pos = arange(0, positions, 1, ScalarType.Int64, device).to(ScalarType.Float32);
        var freqs = pos.unsqueeze(1) * invFreq.unsqueeze(0);
        var emb = cat([freqs, freqs], -1);
        return (emb.cos().DetachFromDisposeScope(), emb.sin().DetachFromDisposeScope());
    }

    public void Dispose()
    {
        Cos.Dispose();
        Sin.Dispose();
    }
}
