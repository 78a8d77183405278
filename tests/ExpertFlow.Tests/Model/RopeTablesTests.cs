using ExpertFlow.Model;
using TorchSharp;

namespace ExpertFlow.Tests.Model;

/// <summary>RoPE tables cover what the KV caches need, not max_position_embeddings up front (a config may declare billions).</summary>
public class RopeTablesTests
{
    [Fact]
    public void A_huge_declared_context_tabulates_only_the_initial_positions()
    {
        Fixtures.Cpu();
        using var rope = new RopeTables(64, 1e6, int.MaxValue, torch.CPU);
        Assert.Equal(RopeTables.InitialPositions, rope.Positions);
        Assert.Equal(new long[] { RopeTables.InitialPositions, 64 }, rope.Cos.shape);
    }

    [Fact]
    public void Growing_doubles_up_to_the_declared_maximum_and_keeps_transformers_values()
    {
        Fixtures.Cpu();
        const int headDim = 16;
        const double theta = 10000;
        using var rope = new RopeTables(headDim, theta, 20000, torch.CPU);
        Assert.False(rope.EnsureCovers(100));
        Assert.True(rope.EnsureCovers(RopeTables.InitialPositions + 1));
        Assert.Equal(2 * RopeTables.InitialPositions, rope.Positions);
        Assert.True(rope.EnsureCovers(19000));
        Assert.Equal(19000, rope.Positions); // more than double: exactly what is asked
        Assert.True(rope.EnsureCovers(19001));
        Assert.Equal(20000, rope.Positions); // double, capped at the maximum
        float[] cos = rope.Cos.data<float>().ToArray(), sin = rope.Sin.data<float>().ToArray();
        foreach (int p in new[] { 0, 1, 4095, 4096, 8191, 19999 })
            for (int i = 0; i < headDim / 2; i++)
            {
                // transformers: inv_freq = 1 / theta^(2i/d) and angle = position * inv_freq, both in fp32
                float invFreq = 1f / MathF.Pow((float)theta, 2f * i / headDim);
                float angle = p * invFreq;
                Assert.Equal(Math.Cos(angle), cos[p * headDim + i], 1e-5);
                Assert.Equal(Math.Sin(angle), sin[p * headDim + i + headDim / 2], 1e-5);
            }
    }
}
