using Toolkit.Runtime.Cuda;

namespace Toolkit.Runtime.Tests.Cuda;

/// <summary>
/// The CUDA-graph binding where libtorch has no CUDA (CPU-only machines, CI): a clear answer, and capture refuses without
/// touching native code. Capture and replay themselves run on a GPU (ExpertFlow's DecodeGraphTests).
/// </summary>
public class TorchCudaGraphTests
{
    [Fact]
    public void Without_a_cuda_libtorch_graphs_are_unavailable_and_say_why()
    {
        var location = LibTorch.EnsureLoaded();
        Assert.SkipWhen(location.HasCuda, "a CUDA libtorch is loaded: the GPU tests cover capture");
        Assert.False(TorchCudaGraph.IsAvailable(out var reason));
        Assert.Contains("no CUDA", reason);
        var e = Assert.Throws<NotSupportedException>(() => TorchCudaGraph.Capture(() => { }, () => { }));
        Assert.Contains("CUDA graphs are not available", e.Message);
    }
}
