namespace Kimad.Compression;

/// <summary>
/// Keeps k uniformly random coordinates scaled by n/k (unbiased), or unscaled with <paramref name="unbiased"/> false: then it
/// is contractive, E||C(v) - v||^2 = (1 - k/n) ||v||^2 (the scaled form divided by 1 + omega = n/k, the form EF21 needs,
/// used as a Kimad level). Wire: header, k, k indices, k values.
/// Sampling is Floyd's algorithm into a pooled set, so no allocation per call.
/// </summary>
public sealed class RandKCompressor(double ratio, bool unbiased = true) : ICompressor
{
    public double Ratio { get; } = ratio is > 0 and <= 1 ? ratio : throw new ArgumentOutOfRangeException(nameof(ratio), ratio, "RandK ratio must be in (0, 1]");
    public CompressorKind Kind => CompressorKind.RandK;
    public string Name => FormattableString.Invariant($"{(unbiased ? "randk" : "randk-contractive")}:{Ratio:G4}");
    public bool Unbiased => unbiased;
    public int WireBytes(int length) => TopKCompressor.SparseWireBytes(Compressors.KeptCount(Ratio, length));

    public int Encode(ReadOnlySpan<float> vector, Span<byte> destination, Random random)
    {
        int n = vector.Length, k = Compressors.KeptCount(Ratio, n);
        int size = WireBytes(n);
        WireFormat.CheckDestination(destination, size, Name);
        int o = WireFormat.WriteHeader(destination, Kind, n);
        WireFormat.WriteInt(destination[o..], k);
        o += 4;
        if (k == 0) return size;
        float scale = unbiased ? (float)n / k : 1f;
        // Floyd: for j = n-k .. n-1 pick t in [0, j]; take t unless already taken, else take j. Membership via a bit set.
        int words = (n + 63) / 64;
        ulong[] rented = System.Buffers.ArrayPool<ulong>.Shared.Rent(words);
        try
        {
            Span<ulong> taken = rented.AsSpan(0, words);
            taken.Clear();
            for (int j = n - k; j < n; j++)
            {
                int t = random.Next(j + 1);
                if ((taken[t >> 6] & (1UL << (t & 63))) != 0) t = j;
                taken[t >> 6] |= 1UL << (t & 63);
            }
            int w = 0, idxBase = o, valBase = o + 4 * k;
            for (int i = 0; i < n; i++)
            {
                if ((taken[i >> 6] & (1UL << (i & 63))) == 0) continue;
                WireFormat.WriteInt(destination[(idxBase + 4 * w)..], i);
                WireFormat.WriteFloat(destination[(valBase + 4 * w)..], vector[i] * scale);
                w++;
            }
        }
        finally { System.Buffers.ArrayPool<ulong>.Shared.Return(rented); }
        return size;
    }
}
