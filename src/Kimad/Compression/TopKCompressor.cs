using System.Buffers;

namespace Kimad.Compression;

/// <summary>
/// Keeps the k largest magnitudes (k = ceil(ratio * n)); contractive: ||C(v) - v||^2 &lt;= (1 - k/n) ||v||^2.
/// Wire: header, k (4 bytes), k indices (4 bytes each), k values (4 bytes each).
/// The k-th magnitude is found by selection (expected O(n)), not by a full sort.
/// </summary>
public sealed class TopKCompressor(double ratio) : ICompressor
{
    public double Ratio { get; } = ratio is > 0 and <= 1 ? ratio : throw new ArgumentOutOfRangeException(nameof(ratio), ratio, "TopK ratio must be in (0, 1]");
    public CompressorKind Kind => CompressorKind.TopK;
    public string Name => FormattableString.Invariant($"topk:{Ratio:G4}");
    public bool Unbiased => false;
    public int WireBytes(int length) => SparseWireBytes(Compressors.KeptCount(Ratio, length));

    /// <summary>Size of a sparse message with <paramref name="kept"/> entries.</summary>
    public static int SparseWireBytes(int kept) => WireFormat.HeaderBytes + 4 + 8 * kept;

    public int Encode(ReadOnlySpan<float> vector, Span<byte> destination, Random random)
    {
        int n = vector.Length, k = Compressors.KeptCount(Ratio, n);
        int size = WireBytes(n);
        WireFormat.CheckDestination(destination, size, Name);
        int o = WireFormat.WriteHeader(destination, Kind, n);
        WireFormat.WriteInt(destination[o..], k);
        o += 4;
        if (k == 0) return size;
        float threshold = Selection.KthLargestMagnitude(vector, k);
        // One ascending pass: everything above the threshold, and ties at the threshold (lowest indices first) until k.
        int above = 0;
        for (int i = 0; i < n; i++) if (MathF.Abs(vector[i]) > threshold) above++;
        int tiesLeft = k - above, written = 0, idxBase = o, valBase = o + 4 * k;
        for (int i = 0; i < n && written < k; i++)
        {
            float a = MathF.Abs(vector[i]);
            if (!(a >= threshold) || (a == threshold && tiesLeft-- <= 0)) continue;   // NaN never passes
            WireFormat.WriteInt(destination[(idxBase + 4 * written)..], i);
            WireFormat.WriteFloat(destination[(valBase + 4 * written)..], vector[i]);
            written++;
        }
        if (written != k) throw new InvalidOperationException($"{Name}: selected {written} of {k} entries (NaN in the input?)");
        return size;
    }
}

/// <summary>Quickselect over magnitudes in a pooled scratch buffer.</summary>
internal static class Selection
{
    /// <summary>The k-th largest |v_i| (1-based k).</summary>
    public static float KthLargestMagnitude(ReadOnlySpan<float> v, int k)
    {
        float[] rented = ArrayPool<float>.Shared.Rent(v.Length);
        try
        {
            Span<float> a = rented.AsSpan(0, v.Length);
            for (int i = 0; i < v.Length; i++) a[i] = MathF.Abs(v[i]);
            return Select(a, v.Length - k);
        }
        finally { ArrayPool<float>.Shared.Return(rented); }
    }

    /// <summary>The element that would be at index <paramref name="nth"/> in ascending order (Hoare partitioning, median of three).</summary>
    public static float Select(Span<float> a, int nth)
    {
        int lo = 0, hi = a.Length - 1;
        while (lo < hi)
        {
            int mid = lo + (hi - lo) / 2;
            if (a[mid] < a[lo]) Swap(a, mid, lo);
            if (a[hi] < a[lo]) Swap(a, hi, lo);
            if (a[hi] < a[mid]) Swap(a, hi, mid);
            float pivot = a[mid];
            int i = lo, j = hi;
            while (i <= j)
            {
                while (a[i] < pivot) i++;
                while (a[j] > pivot) j--;
                if (i <= j) { Swap(a, i, j); i++; j--; }
            }
            if (nth <= j) hi = j;
            else if (nth >= i) lo = i;
            else return a[nth];
        }
        return a[nth];
    }

    static void Swap(Span<float> a, int i, int j) => (a[i], a[j]) = (a[j], a[i]);
}
