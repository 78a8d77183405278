namespace Kimad.Compression;

/// <summary>
/// The warm-start state of PowerSGD-style compression for one matrix (one layer of one sender): Q, cols x maxRank, kept
/// between rounds so that one power iteration per round tracks the leading subspace. Starts as a seeded Gaussian.
/// </summary>
public sealed class LowRankState
{
    readonly Random random;

    public LowRankState(int rows, int cols, int maxRank, int seed)
    {
        if (rows < 1 || cols < 1) throw new ArgumentException($"a low-rank state needs a matrix, got {rows} x {cols}");
        Rows = rows;
        Cols = cols;
        random = new Random(seed);
        Q = new double[Math.Max(1, Math.Min(maxRank, Math.Min(rows, cols)))][];
        for (int j = 0; j < Q.Length; j++) Q[j] = Gaussian(cols);
    }

    public int Rows { get; }
    public int Cols { get; }
    public int MaxRank => Q.Length;
    /// <summary>Q's columns (each of length <see cref="Cols"/>).</summary>
    internal double[][] Q { get; }

    /// <summary>Stores the new Q of the first columns; a column that came out zero (rank-deficient input) is drawn again.</summary>
    internal void Update(double[][] q)
    {
        for (int j = 0; j < q.Length; j++)
        {
            double norm = 0;
            foreach (double x in q[j]) norm += x * x;
            Q[j] = norm > 0 && double.IsFinite(norm) ? (double[])q[j].Clone() : Gaussian(Cols);
        }
    }

    double[] Gaussian(int n)
    {
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        return v;
    }
}

/// <summary>
/// PowerSGD-style rank-r compression (Vogels, Karimireddy, Jaggi 2019) of a layer viewed as a rows x cols matrix M (row
/// major; a conv weight [out, in, kh, kw] is out x (in kh kw)): one power iteration from the warm-started Q of
/// <see cref="LowRankState"/>: P = M Q, P's columns orthonormalised (modified Gram-Schmidt), Q' = M^T P; the receiver
/// computes P Q'^T, which equals P P^T M, the projection of M on span(P). Q' becomes the next round's warm start. An
/// exactly rank-r matrix is recovered in one iteration from any generic Q. The error is
/// ||M - P P^T M||^2 = ||M||^2 - ||Q'||_F^2, and because Gram-Schmidt is sequential the rank-r result is the first r
/// columns of the rank-R one, so one iteration at the largest rank gives the error of every rank
/// (<see cref="Errors"/>). Deterministic (given the state) and contractive (a projection).
/// Wire: header, rows (4 bytes), rank (4 bytes), P (rows x r float32, row major), Q' (cols x r float32, row major).
/// </summary>
public sealed class LowRankCompressor(int rank, LowRankState state) : ICompressor
{
    public int Rank { get; } = rank >= 1 && rank <= state.MaxRank ? rank
        : throw new ArgumentOutOfRangeException(nameof(rank), rank, $"rank must be 1..{state.MaxRank} for a {state.Rows} x {state.Cols} matrix");
    public CompressorKind Kind => CompressorKind.LowRank;
    public string Name => $"powersgd:{Rank}";
    public bool Unbiased => false;
    public int WireBytes(int length) => Bytes(state.Rows, length / state.Rows, Rank);

    /// <summary>Exact size of a rank-r message for a rows x cols matrix.</summary>
    public static int Bytes(int rows, int cols, int rank) => WireFormat.HeaderBytes + 8 + 4 * rank * (rows + cols);

    public int Encode(ReadOnlySpan<float> vector, Span<byte> destination, Random random)
    {
        int m = state.Rows, c = state.Cols;
        if (vector.Length != m * c) throw new ArgumentException($"{Name}: the vector has {vector.Length} elements, the matrix is {m} x {c}");
        int size = WireBytes(vector.Length);
        WireFormat.CheckDestination(destination, size, Name);
        var (p, q) = PowerIteration(vector, state, Rank);
        int o = WireFormat.WriteHeader(destination, Kind, vector.Length);
        WireFormat.WriteInt(destination[o..], m);
        WireFormat.WriteInt(destination[(o + 4)..], Rank);
        o += 8;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < Rank; j++, o += 4) WireFormat.WriteFloat(destination[o..], (float)p[j][i]);
        for (int i = 0; i < c; i++)
            for (int j = 0; j < Rank; j++, o += 4) WireFormat.WriteFloat(destination[o..], (float)q[j][i]);
        state.Update(q);
        return size;
    }

    /// <summary>
    /// ||M - P_r P_r^T M||^2 for every rank in <paramref name="ranks"/> (each 1..MaxRank) from one iteration at the largest,
    /// without changing the state.
    /// </summary>
    public static void Errors(ReadOnlySpan<float> vector, LowRankState state, IReadOnlyList<int> ranks, Span<double> errors)
    {
        int top = 0;
        foreach (int r in ranks) top = Math.Max(top, r);
        double energy = 0;
        foreach (float x in vector) energy += (double)x * x;
        var (_, q) = PowerIteration(vector, state, top);
        var captured = new double[top + 1];
        for (int j = 0; j < top; j++)
        {
            double s = 0;
            foreach (double x in q[j]) s += x * x;
            captured[j + 1] = captured[j] + s;
        }
        for (int k = 0; k < ranks.Count; k++) errors[k] = Math.Max(0, energy - captured[ranks[k]]);
    }

    /// <summary>P = M Q (first <paramref name="rank"/> columns of the state), orthonormalised; Q' = M^T P. Columns of P that
    /// vanish (M has lower rank) are set to zero, and so are their Q' columns.</summary>
    static (double[][] P, double[][] Q) PowerIteration(ReadOnlySpan<float> m, LowRankState state, int rank)
    {
        int rows = state.Rows, cols = state.Cols;
        var p = new double[rank][];
        for (int j = 0; j < rank; j++)
        {
            var qj = state.Q[j];
            var pj = p[j] = new double[rows];
            for (int i = 0; i < rows; i++)
            {
                double s = 0;
                var row = m.Slice(i * cols, cols);
                for (int k = 0; k < cols; k++) s += row[k] * qj[k];
                pj[i] = s;
            }
        }
        for (int j = 0; j < rank; j++)
        {
            var pj = p[j];
            double before = Norm(pj);
            for (int pass = 0; pass < 2; pass++)   // twice is enough for orthogonality in floating point
                for (int k = 0; k < j; k++)
                {
                    double dot = 0;
                    for (int i = 0; i < rows; i++) dot += pj[i] * p[k][i];
                    for (int i = 0; i < rows; i++) pj[i] -= dot * p[k][i];
                }
            double after = Norm(pj);
            if (!(after > 1e-10 * before) || after == 0) Array.Clear(pj);
            else for (int i = 0; i < rows; i++) pj[i] /= after;
        }
        var q = new double[rank][];
        for (int j = 0; j < rank; j++) q[j] = new double[cols];
        for (int i = 0; i < rows; i++)
        {
            var row = m.Slice(i * cols, cols);
            for (int j = 0; j < rank; j++)
            {
                double pij = p[j][i];
                if (pij == 0) continue;
                var qj = q[j];
                for (int k = 0; k < cols; k++) qj[k] += row[k] * pij;
            }
        }
        return (p, q);
    }

    static double Norm(double[] v)
    {
        double s = 0;
        foreach (double x in v) s += x * x;
        return Math.Sqrt(s);
    }

    /// <summary>Decodes the body (after the header) of a rank-r message for <paramref name="destination"/>'s length.</summary>
    internal static int Decode(ReadOnlySpan<byte> source, Span<float> destination, Func<string, Exception> bad)
    {
        int n = destination.Length, o = WireFormat.HeaderBytes;
        if (source.Length < o + 8) throw bad($"truncated: {source.Length} bytes, a low-rank header needs {o + 8}");
        int rows = WireFormat.ReadInt(source[o..]), rank = WireFormat.ReadInt(source[(o + 4)..]);
        if (rows < 1 || n % rows != 0) throw bad($"low-rank rows {rows} do not divide {n} elements");
        int cols = n / rows;
        if (rank < 1 || rank > Math.Min(rows, cols)) throw bad($"low-rank rank {rank} outside 1..{Math.Min(rows, cols)}");
        int size = Bytes(rows, cols, rank);
        if (source.Length < size) throw bad($"truncated: {source.Length} bytes, the encoding needs {size}");
        o += 8;
        var p = new float[rows * rank];
        var q = new float[cols * rank];
        for (int i = 0; i < p.Length; i++, o += 4) p[i] = WireFormat.ReadFloat(source[o..]);
        for (int i = 0; i < q.Length; i++, o += 4) q[i] = WireFormat.ReadFloat(source[o..]);
        if (!p.All(float.IsFinite) || !q.All(float.IsFinite)) throw bad("low-rank factors contain NaN or infinity");
        for (int i = 0; i < rows; i++)
            for (int k = 0; k < cols; k++)
            {
                double s = 0;
                for (int j = 0; j < rank; j++) s += (double)p[i * rank + j] * q[k * rank + j];
                float v = (float)s;
                if (!float.IsFinite(v)) throw bad("low-rank product overflows");
                destination[i * cols + k] = v;
            }
        return size;
    }
}
