using Toolkit.Runtime.Safetensors;
using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>
/// Random weights of any requested shape, made on the target device (normal, std 0.02 as transformers' init; norm
/// weights 1). Deterministic for a seed and load order (the global generators are seeded at the first load: a
/// TorchSharp Generator object is a CPU generator, which CUDA sampling rejects). Biases are absent
/// (<see cref="Contains"/> is false for them).
/// </summary>
public sealed class RandomWeights(long seed = 0) : IWeightSource
{
    bool seeded;

    public SafetensorsCheckpoint? Checkpoint => null;
    public string Description => "random weights";
    public bool Contains(string name) => !name.EndsWith(".bias", StringComparison.Ordinal);
    public void Check(string name, long[] shape) { }

    public Tensor Load(string name, long[] shape, Device device, ScalarType dtype)
    {
        var t = empty(shape, dtype, device);
        LoadInto(name, shape, t);
        return t;
    }

    public void LoadInto(string name, long[] shape, Tensor destination)
    {
        using var noGrad = no_grad();
        if (name.Contains("norm", StringComparison.Ordinal)) { destination.fill_(1); return; }
        if (!seeded)
        {
            manual_seed(seed); // seeds the CPU and every CUDA generator
            seeded = true;
        }
        destination.normal_(0.0, 0.02);
    }

    public void Dispose() { }
}
