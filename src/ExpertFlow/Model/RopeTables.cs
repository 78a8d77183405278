using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>
/// Default RoPE tables, computed as transformers does: inv_freq = 1 / theta^(2i/d) in fp32, angle = position * inv_freq,
/// cos/sin in fp32 of [angle, angle], cast to the compute dtype where used.
/// </summary>
internal sealed class RopeTables : IDisposable
{
    public Tensor Cos { get; }
    public Tensor Sin { get; }

    public RopeTables(int headDim, double theta, int positions, Device device)
    {
        using var scope = NewDisposeScope();
        var exponents = arange(0, headDim, 2, ScalarType.Int64, device).to(ScalarType.Float32) / headDim;
        var invFreq = 1.0f / tensor((float)theta, ScalarType.Float32, device).pow(exponents);
        var pos = arange(0, positions, 1, ScalarType.Int64, device).to(ScalarType.Float32);
        var freqs = pos.unsqueeze(1) * invFreq.unsqueeze(0);
        var emb = cat([freqs, freqs], -1);
        Cos = emb.cos().DetachFromDisposeScope();
        Sin = emb.sin().DetachFromDisposeScope();
    }

    public void Dispose()
    {
        Cos.Dispose();
        Sin.Dispose();
    }
}
