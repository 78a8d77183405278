using Toolkit.Runtime;
using Wwae.Training;

namespace Wwae.Tests;

public sealed class FlatAdamTests
{
    public FlatAdamTests() => LibTorch.EnsureLoaded();

    // A well-conditioned model: in the auto-encoder some gradients are pure rounding noise (a bias followed by
    // batch norm), which Adam normalises into different steps for different summation orders.
    static nn.Module<Tensor, Tensor> Net() => nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3));

    [Fact]
    public void MatchesTorchSharpAdamStepForStep()
    {
        manual_seed(5);
        using var a = Net();
        using var b = Net();
        b.load_state_dict(a.state_dict());
        var initial = a.parameters().Select(p => p.detach().clone()).ToList();
        var reference = optim.Adam(a.parameters(), lr: 1e-2, beta1: 0.5, beta2: 0.999);
        using var flat = new FlatAdam(b.parameters(), 1e-2, 0.5, 0.999);
        using var x = randn(16, 6);
        using var y = randn(16, 3);
        for (int i = 0; i < 7; i++)
        {
            reference.zero_grad();
            (a.forward(x) - y).square().mean().backward();
            reference.step();
            flat.ZeroGrad();
            (b.forward(x) - y).square().mean().backward();
            flat.Step();
        }
        foreach (var (((name, pa), (_, pb)), start) in a.named_parameters().Zip(b.named_parameters()).Zip(initial))
        {
            Assert.True(pa.allclose(pb, rtol: 1e-5, atol: 1e-7), $"{name} differs after 7 steps");
            Assert.False(pb.allclose(start), $"{name} did not move");
        }
        Assert.Equal(7, flat.StepCount);
    }
}
