using TorchSharp;
using static TorchSharp.torch;

namespace Toolkit.Runtime.Tests;

/// <summary>
/// The ATen operators reached by mangled name (<see cref="LibTorchOps"/>), on whatever libtorch is loaded (the CPU one
/// here and in CI; ExpertFlow's GPU tests run them on CUDA): results against the same arithmetic written with
/// TorchSharp's own ops, ownership of the returned tensors, and refusals before any native call.
/// </summary>
public class LibTorchOpsTests
{
    public LibTorchOpsTests()
    {
        LibTorch.EnsureLoaded();
        Assert.True(LibTorchOps.IsAvailable(out var why), why);
    }

    [Theory]
    [InlineData(ScalarType.Float32, 1e-5)]
    [InlineData(ScalarType.BFloat16, 2e-2)]
    public void Grouped_mm_multiplies_each_group_of_rows_by_its_own_matrix(ScalarType dtype, double tolerance)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var gen = new Generator(7);
        int[] counts = [2, 0, 3, 1, 0, 4]; // empty groups included, as experts nobody chose
        long m = counts.Sum(), k = 16, n = 24;
        var a = randn([m, k], generator: gen).to(dtype);
        var weights = randn([counts.Length, n, k], generator: gen).to(dtype); // stored [G, N, K], as expert weights
        var b = weights.transpose(1, 2);                                   // a view [G, K, N]: no copy
        var offsets = tensor(counts.Select((_, g) => counts.Take(g + 1).Sum()).ToArray(), ScalarType.Int32);

        var result = LibTorchOps.GroupedMm(a, b, offsets);

        Assert.Equal(new long[] { m, n }, result.shape);
        Assert.Equal(dtype, result.dtype);
        long start = 0;
        for (int g = 0; g < counts.Length; g++)
        {
            if (counts[g] == 0) continue;
            var expected = a.narrow(0, start, counts[g]).to(ScalarType.Float32).matmul(b[g].to(ScalarType.Float32));
            var got = result.narrow(0, start, counts[g]).to(ScalarType.Float32);
            double scale = Math.Max(1, expected.abs().max().item<float>());
            Assert.True((got - expected).abs().max().item<float>() <= tolerance * scale, $"group {g} differs beyond {tolerance}");
            start += counts[g];
        }
    }

    [Theory]
    [InlineData(ScalarType.Float32, 1e-6)]
    [InlineData(ScalarType.BFloat16, 1e-2)]
    public void Rms_norm_matches_the_composite_formula(ScalarType dtype, double tolerance)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var gen = new Generator(3);
        var x = (randn([3, 5, 64], generator: gen) * 3).to(dtype);
        var weight = (rand([64], generator: gen) + 0.5).to(dtype);

        var fused = LibTorchOps.RmsNorm(x, weight, 1e-6).to(ScalarType.Float32);

        var x32 = x.to(ScalarType.Float32);
        var expected = x32 * rsqrt(x32.pow(2).mean([-1], keepdim: true) + 1e-6) * weight.to(ScalarType.Float32);
        Assert.Equal(x.shape, fused.shape);
        Assert.True((fused - expected).abs().max().item<float>() <= tolerance * expected.abs().max().item<float>());
    }

    [Fact]
    public void Returned_tensors_are_owned_and_freed_like_any_other()
    {
        using var _ = no_grad();
        var a = ones(4, 8);
        var b = ones(2, 8, 8);
        var offsets = tensor(new[] { 1, 4 }, ScalarType.Int32);
        for (int i = 0; i < 200; i++)
        {
            using var scope = NewDisposeScope();
            var r = LibTorchOps.GroupedMm(a, b, offsets);
            Assert.Equal(8f, r[3, 7].item<float>());
            var view = r.narrow(0, 1, 2); // a view keeps the result's storage alive after the result is disposed
            r.Dispose();
            Assert.Equal(8f, view[0, 0].item<float>());
        }
        foreach (var t in new[] { a, b, offsets }) t.Dispose();
    }

    [Fact]
    public void Bad_operands_are_refused_before_any_native_call()
    {
        using var scope = NewDisposeScope();
        var a = ones(4, 8);
        var offsets = tensor(new[] { 1, 4 }, ScalarType.Int32);
        Assert.Contains("K = 6", Assert.Throws<ArgumentException>(() => LibTorchOps.GroupedMm(a, ones(2, 6, 8), offsets)).Message);
        Assert.Contains("int32 offsets", Assert.Throws<ArgumentException>(() => LibTorchOps.GroupedMm(a, ones(2, 8, 8), tensor(new long[] { 1, 4 }))).Message);
        Assert.Contains("int32 offsets", Assert.Throws<ArgumentException>(() => LibTorchOps.GroupedMm(a, ones(3, 8, 8), offsets)).Message);
        Assert.Contains("3-D", Assert.Throws<ArgumentException>(() => LibTorchOps.GroupedMm(a, ones(8, 8), offsets)).Message);
        Assert.Contains("dtype", Assert.Throws<ArgumentException>(() => LibTorchOps.GroupedMm(a, ones(2, 8, 8, ScalarType.Float64), offsets)).Message);
        Assert.Contains("does not match", Assert.Throws<ArgumentException>(() => LibTorchOps.RmsNorm(ones(2, 8), ones(6), 1e-6)).Message);
        Assert.Contains("floating-point", Assert.Throws<ArgumentException>(() => LibTorchOps.RmsNorm(ones(2, 8, ScalarType.Int64), ones(8, ScalarType.Int64), 1e-6)).Message);
    }
}
