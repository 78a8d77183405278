using Toolkit.Runtime;
using Wwae.Models;

namespace Wwae.Tests;

public sealed class MixedPrecisionTests
{
    public MixedPrecisionTests() => LibTorch.EnsureLoaded();

    [Theory]
    [InlineData(28, 1)]
    [InlineData(64, 3)]
    public void Bf16ForwardIsCloseToFloat32AndGradientsReachFloat32Weights(int size, int channels)
    {
        manual_seed(3);
        using var model = new GaussianAutoEncoder(new AutoEncoderConfig(channels, size, 6, 8, Deterministic: true));
        model.train();
        var x = rand(4, channels, size, size);
        var reference = model.Decode(model.Encode(x).Z).detach();
        var referenceMean = model.Encode(x).Mean.detach();
        model.ComputeType = ScalarType.BFloat16;
        var code = model.Encode(x);
        var output = model.Decode(code.Z);
        Assert.Equal(ScalarType.Float32, output.dtype);
        Assert.Equal(ScalarType.Float32, code.Mean.dtype);
        // bfloat16 keeps 8 significant bits: relative error about 2^-8 per operation.
        double meanError = ((code.Mean - referenceMean).norm() / referenceMean.norm()).item<float>();
        double outputError = (output - reference).abs().max().item<float>();
        Assert.InRange(meanError, 1e-6, 0.05);   // not zero: the arithmetic really was bfloat16
        Assert.InRange(outputError, 0, 0.02);
        output.sum().backward();
        foreach (var (name, p) in model.named_parameters())
        {
            Assert.Equal(ScalarType.Float32, p.dtype);
            Assert.True(p.grad is not null && p.grad.dtype == ScalarType.Float32, name);
        }
    }
}
