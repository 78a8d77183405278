namespace Wwae.Tests;

/// <summary>Plain double-array linear algebra, independent of libtorch, for checking the tensor code.</summary>
static class DenseMatrix
{
    public static double[,] Multiply(double[,] a, double[,] b)
    {
        int n = a.GetLength(0), m = b.GetLength(1), k = a.GetLength(1);
        var c = new double[n, m];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
            {
                double s = 0;
                for (int t = 0; t < k; t++) s += a[i, t] * b[t, j];
                c[i, j] = s;
            }
        return c;
    }

    public static double[,] Identity(int n)
    {
        var m = new double[n, n];
        for (int i = 0; i < n; i++) m[i, i] = 1;
        return m;
    }

    public static double Trace(double[,] a)
    {
        double s = 0;
        for (int i = 0; i < a.GetLength(0); i++) s += a[i, i];
        return s;
    }

    /// <summary>Gauss-Jordan inverse with partial pivoting.</summary>
    public static double[,] Inverse(double[,] a)
    {
        int n = a.GetLength(0);
        var m = (double[,])a.Clone();
        var inv = Identity(n);
        for (int col = 0; col < n; col++)
        {
            int pivot = col;
            for (int r = col + 1; r < n; r++) if (Math.Abs(m[r, col]) > Math.Abs(m[pivot, col])) pivot = r;
            for (int j = 0; j < n; j++) { (m[col, j], m[pivot, j]) = (m[pivot, j], m[col, j]); (inv[col, j], inv[pivot, j]) = (inv[pivot, j], inv[col, j]); }
            double p = m[col, col];
            for (int j = 0; j < n; j++) { m[col, j] /= p; inv[col, j] /= p; }
            for (int r = 0; r < n; r++)
            {
                if (r == col) continue;
                double f = m[r, col];
                if (f == 0) continue;
                for (int j = 0; j < n; j++) { m[r, j] -= f * m[col, j]; inv[r, j] -= f * inv[col, j]; }
            }
        }
        return inv;
    }

    /// <summary>Principal square root of an SPD matrix by the Denman-Beavers iteration (no eigen-decomposition).</summary>
    public static double[,] SqrtDenmanBeavers(double[,] a, int iterations = 60)
    {
        int n = a.GetLength(0);
        var y = (double[,])a.Clone();
        var z = Identity(n);
        for (int it = 0; it < iterations; it++)
        {
            var yi = Inverse(y);
            var zi = Inverse(z);
            var y2 = new double[n, n];
            var z2 = new double[n, n];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) { y2[i, j] = 0.5 * (y[i, j] + zi[i, j]); z2[i, j] = 0.5 * (z[i, j] + yi[i, j]); }
            y = y2; z = z2;
        }
        return y;
    }

    /// <summary>A random SPD matrix A A^T / d + shift I.</summary>
    public static double[,] RandomSpd(int d, Random random, double shift = 0.1)
    {
        var a = new double[d, d];
        for (int i = 0; i < d; i++) for (int j = 0; j < d; j++) a[i, j] = random.NextDouble() * 2 - 1;
        var s = new double[d, d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
            {
                double v = 0;
                for (int t = 0; t < d; t++) v += a[i, t] * a[j, t];
                s[i, j] = v / d + (i == j ? shift : 0);
            }
        return s;
    }

    public static Tensor ToTensor(double[,] a)
    {
        int n = a.GetLength(0), m = a.GetLength(1);
        var flat = new double[n * m];
        for (int i = 0; i < n; i++) for (int j = 0; j < m; j++) flat[i * m + j] = a[i, j];
        return tensor(flat, dtype: float64).reshape(n, m);
    }
}
