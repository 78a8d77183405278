using Toolkit.Runtime;
using Wwae.Evaluation;

namespace Wwae.Tests;

public sealed class InceptionV3Tests
{
    public InceptionV3Tests() => LibTorch.EnsureLoaded();

    [Fact]
    public void HasTorchvisionParameterNamesAndPool3Output()
    {
        using var net = new InceptionV3();
        var names = net.state_dict().Keys.ToHashSet();
        // A few names of pytorch-fid's pt_inception state dict (torchvision Inception3 naming).
        foreach (var key in new[] { "Conv2d_1a_3x3.conv.weight", "Conv2d_4a_3x3.bn.running_var", "Mixed_5b.branch_pool.conv.weight",
                     "Mixed_6e.branch7x7dbl_5.bn.bias", "Mixed_7a.branch7x7x3_4.conv.weight", "Mixed_7c.branch3x3dbl_3b.bn.running_mean" })
            Assert.Contains(key, names);
        Assert.Equal(94, net.parameters().Count() / 3);
        net.eval();
        using var _ = no_grad();
        using var y = net.forward(rand(1, 3, 32, 32));
        Assert.Equal([1L, 2048L], y.shape);
    }
}
