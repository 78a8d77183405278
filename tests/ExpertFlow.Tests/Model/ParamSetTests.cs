using ExpertFlow.Model;
using Toolkit.Runtime;
using static TorchSharp.torch;

namespace ExpertFlow.Tests.Model;

public class ParamSetTests
{
    public ParamSetTests() => LibTorch.EnsureLoaded();

    /// <summary>Deterministic weights: element i of tensor "wN" is N * 1000 + i.</summary>
    sealed class CountingWeights : IWeightSource
    {
        public List<string> Loads { get; } = [];
        public Toolkit.Runtime.Safetensors.SafetensorsCheckpoint? Checkpoint => null;
        public string Description => "counting weights";
        public bool Contains(string name) => true;
        public void Check(string name, long[] shape) { }
        public Tensor Load(string name, long[] shape, Device device, ScalarType dtype)
        {
            Loads.Add(name);
            long n = shape.Aggregate(1L, (a, b) => a * b);
            return (arange(n, ScalarType.Float32) + int.Parse(name[1..]) * 1000).reshape(shape).to(dtype).to(device);
        }
        public void LoadInto(string name, long[] shape, Tensor destination)
        {
            using var t = Load(name, shape, destination.device, destination.dtype);
            destination.copy_(t);
        }
        public void Dispose() { }
    }

    [Fact]
    public void Fused_members_share_one_tensor_holding_their_concatenation()
    {
        var ps = new ParamSet();
        var a = ps.Declare("w1", 2, 3);
        var other = ps.Declare("w2", 4);
        var b = ps.Declare("w3", 1, 3);
        var c = ps.Declare("w4", 3, 3);
        ps.Fuse(a, b, c);
        var source = new CountingWeights();
        ps.Materialise(source, CPU, ScalarType.Float32);

        Assert.Equal(["w1", "w2", "w3", "w4"], source.Loads.Take(4)); // declaration order (random weights stay reproducible)
        Assert.Same(a.Value, b.Value);
        Assert.Same(a.Value, c.Value);
        Assert.Equal([6L, 3], a.Value.shape);
        using var expected = cat([source.Load("w1", [2, 3], CPU, ScalarType.Float32), source.Load("w3", [1, 3], CPU, ScalarType.Float32),
            source.Load("w4", [3, 3], CPU, ScalarType.Float32)], 0);
        Assert.True(a.Value.eq(expected).all().item<bool>());
        Assert.Equal([4L], other.Value.shape);
        Assert.Equal((6 * 3 + 4) * 4, ps.Bytes); // the fused tensor counts once
    }

    [Fact]
    public void Fusing_weights_with_different_row_lengths_is_refused()
    {
        var ps = new ParamSet();
        var a = ps.Declare("w1", 2, 3);
        var b = ps.Declare("w2", 2, 4);
        var e = Assert.Throws<InvalidOperationException>(() => ps.Fuse(a, b));
        Assert.Contains("trailing dimensions differ", e.Message);
    }
}
