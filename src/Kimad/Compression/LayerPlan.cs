namespace Kimad.Compression;

/// <summary>
/// Compression levels of Kimad and Kimad+: identity plus TopK at a geometric ladder of ratios.
/// TopK errors for every level come from one sort of the squared magnitudes (prefix sums), so a layer's
/// whole error profile costs O(n log n).
/// </summary>
public static class CompressionLevels
{
    /// <summary>The 16 default levels (kept fraction); 1 means identity (4 bytes/element, cheaper than TopK at k = n).</summary>
    public static readonly double[] Default =
        [1.0, 0.5, 0.3, 0.2, 0.1, 0.07, 0.05, 0.03, 0.02, 0.01, 0.007, 0.005, 0.003, 0.002, 0.001, 0.0005];

    /// <summary>The compressor for a level.</summary>
    public static ICompressor For(double ratio) => ratio >= 1 ? new IdentityCompressor() : new TopKCompressor(ratio);

    /// <summary>Exact wire size of level <paramref name="ratio"/> on a layer of <paramref name="length"/> elements.</summary>
    public static int Bytes(double ratio, int length) => For(ratio).WireBytes(length);

    /// <summary>||C(v) - v||^2 for every level (TopK: the energy outside the k largest magnitudes).</summary>
    public static void Errors(ReadOnlySpan<float> v, IReadOnlyList<double> ratios, Span<double> errors)
    {
        int n = v.Length;
        double[] squares = System.Buffers.ArrayPool<double>.Shared.Rent(Math.Max(n, 1));
        try
        {
            Span<double> s = squares.AsSpan(0, n);
            double total = 0;
            for (int i = 0; i < n; i++) { s[i] = (double)v[i] * v[i]; total += s[i]; }
            s.Sort();   // ascending; the k largest are the last k
            // errors[j] = total - sum of the largest k_j = sum of the smallest n - k_j.
            var order = new (int Kept, int Index)[ratios.Count];
            for (int j = 0; j < ratios.Count; j++) order[j] = (ratios[j] >= 1 ? n : Compressors.KeptCount(ratios[j], n), j);
            Array.Sort(order, (a, b) => b.Kept.CompareTo(a.Kept)); // fewest dropped first
            double dropped = 0;
            int droppedCount = 0;
            foreach (var (kept, index) in order)
            {
                int drop = n - kept;
                while (droppedCount < drop) dropped += s[droppedCount++];
                errors[index] = ratios[index] >= 1 ? 0 : dropped;
            }
        }
        finally { System.Buffers.ArrayPool<double>.Shared.Return(squares); }
    }
}
