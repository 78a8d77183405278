using Kimad.Compression;

namespace Kimad.Tests;

/// <summary>PowerSGD-style low-rank levels against exact low-rank matrices and the SVD's closed-form error.</summary>
public class LowRankTests
{
    /// <summary>Orthonormal columns (Gram-Schmidt of Gaussian columns), each of length n.</summary>
    static double[][] Orthonormal(int n, int k, Random r)
    {
        var cols = new double[k][];
        for (int j = 0; j < k; j++)
        {
            var c = Enumerable.Range(0, n).Select(_ => r.NextDouble() * 2 - 1).ToArray();
            for (int pass = 0; pass < 2; pass++)
                for (int p = 0; p < j; p++)
                {
                    double dot = c.Zip(cols[p], (a, b) => a * b).Sum();
                    for (int i = 0; i < n; i++) c[i] -= dot * cols[p][i];
                }
            double norm = Math.Sqrt(c.Sum(x => x * x));
            cols[j] = c.Select(x => x / norm).ToArray();
        }
        return cols;
    }

    /// <summary>M = sum_j s_j u_j v_j^T, row major (rows x cols).</summary>
    static float[] Matrix(int rows, int cols, double[] singular, int seed)
    {
        var r = new Random(seed);
        var u = Orthonormal(rows, singular.Length, r);
        var v = Orthonormal(cols, singular.Length, r);
        var m = new float[rows * cols];
        for (int i = 0; i < rows; i++)
            for (int k = 0; k < cols; k++)
                m[i * cols + k] = (float)singular.Select((s, j) => s * u[j][i] * v[j][k]).Sum();
        return m;
    }

    static double Error(float[] a, float[] b) => a.Zip(b, (x, y) => (double)(x - y) * (x - y)).Sum();

    [Theory]
    [InlineData(40, 30, 1)]
    [InlineData(16, 200, 3)]
    [InlineData(64, 64, 4)]
    public void AnExactlyLowRankMatrixIsRecoveredInOneIteration(int rows, int cols, int rank)
    {
        var m = Matrix(rows, cols, Enumerable.Range(0, rank).Select(j => 5.0 / (j + 1)).ToArray(), rows + cols);
        var state = new LowRankState(rows, cols, 8, seed: 11);
        var back = new float[m.Length];
        WireCodec.Apply(new LowRankCompressor(rank, state), m, back, new Random(0));
        double energy = m.Sum(x => (double)x * x);
        Assert.True(Error(m, back) < 1e-9 * energy, $"relative error {Error(m, back) / energy:G3}");
    }

    [Fact]
    public void WarmStartConvergesToTheBestRankRError()
    {
        // Singular values 8, 4, 2, 1, 0.5: the best rank-2 approximation leaves 2^2 + 1 + 0.25 = 5.25 (Eckart-Young).
        double[] s = [8, 4, 2, 1, 0.5];
        var m = Matrix(30, 50, s, 3);
        var state = new LowRankState(30, 50, 32, seed: 5);
        var c = new LowRankCompressor(2, state);
        var back = new float[m.Length];
        double first = 0, last = 0;
        for (int round = 0; round < 40; round++)
        {
            WireCodec.Apply(c, m, back, new Random(0));
            if (round == 0) first = Error(m, back);
            last = Error(m, back);
        }
        Assert.True(first >= 5.25 - 1e-3, $"one iteration from a random start cannot beat the SVD: {first}");
        Assert.True(Math.Abs(last - 5.25) < 0.01 * 5.25, $"after 40 warm-started rounds the error is {last}, the SVD's 5.25");
    }

    [Fact]
    public void ErrorProfileEqualsTheMeasuredErrorOfEveryRankAndLeavesTheStateAlone()
    {
        var r = new Random(9);
        var m = Enumerable.Range(0, 24 * 36).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
        int[] ranks = [1, 2, 4, 8];
        var errors = new double[ranks.Length];
        var state = new LowRankState(24, 36, 8, seed: 1);
        LowRankCompressor.Errors(m, state, ranks, errors);
        for (int j = 0; j < ranks.Length; j++)
        {
            var fresh = new LowRankState(24, 36, 8, seed: 1);   // the same start as the profile's
            var back = new float[m.Length];
            WireCodec.Apply(new LowRankCompressor(ranks[j], fresh), m, back, new Random(0));
            double measured = Error(m, back), energy = m.Sum(x => (double)x * x);
            Assert.True(Math.Abs(measured - errors[j]) < 1e-5 * energy, $"rank {ranks[j]}: profile {errors[j]}, measured {measured}");
            if (j > 0) Assert.True(errors[j] <= errors[j - 1]);
        }
        var again = new double[ranks.Length];
        LowRankCompressor.Errors(m, state, ranks, again);
        Assert.Equal(errors, again);   // profiling did not move the warm start
    }

    [Fact]
    public void WireSizeAndMalformedMessages()
    {
        var state = new LowRankState(10, 20, 4, seed: 0);
        var c = new LowRankCompressor(3, state);
        Assert.Equal(5 + 8 + 4 * 3 * (10 + 20), c.WireBytes(200));
        var buffer = new byte[c.WireBytes(200)];
        Assert.Equal(buffer.Length, c.Encode(new float[200], buffer, new Random(0)));   // a zero matrix encodes (zero factors)
        Assert.Equal(buffer.Length, WireCodec.Decode(buffer, new float[200]));
        var wrongRows = (byte[])buffer.Clone();
        BitConverter.GetBytes(7).CopyTo(wrongRows, 5);   // 7 does not divide 200
        Assert.Throws<InvalidDataException>(() => WireCodec.Decode(wrongRows, new float[200]));
        var wrongRank = (byte[])buffer.Clone();
        BitConverter.GetBytes(0).CopyTo(wrongRank, 9);
        Assert.Throws<InvalidDataException>(() => WireCodec.Decode(wrongRank, new float[200]));
        Assert.Throws<InvalidDataException>(() => WireCodec.Decode(buffer.AsSpan(0, buffer.Length - 1), new float[200]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LowRankCompressor(5, state));
    }
}
