using System.Numerics;

namespace ExpertFlow.Scheduling;

/// <summary>A set of (layer, expert) pairs as a bitset of L x E bits: a token's or a batch's routing path.</summary>
public sealed class ExpertSet
{
    readonly ulong[] bits;

    public ExpertSet(int numLayers, int numExperts)
    {
        NumLayers = numLayers;
        NumExperts = numExperts;
        bits = new ulong[(numLayers * numExperts + 63) / 64];
    }

    public int NumLayers { get; }
    public int NumExperts { get; }

    public void Add(int layer, int expert)
    {
        int i = layer * NumExperts + expert;
        bits[i >> 6] |= 1UL << (i & 63);
    }

    public bool Contains(int layer, int expert)
    {
        int i = layer * NumExperts + expert;
        return (bits[i >> 6] & (1UL << (i & 63))) != 0;
    }

    /// <summary>Number of (layer, expert) pairs in the set.</summary>
    public int Count => bits.Sum(w => BitOperations.PopCount(w));

    public void UnionWith(ExpertSet other)
    {
        for (int i = 0; i < bits.Length; i++) bits[i] |= other.bits[i];
    }

    /// <summary>Hamming similarity: number of the L x E positions where both sets agree.</summary>
    public int HammingSimilarity(ExpertSet other)
    {
        int differ = 0;
        for (int i = 0; i < bits.Length; i++) differ += BitOperations.PopCount(bits[i] ^ other.bits[i]);
        return NumLayers * NumExperts - differ;
    }

    /// <summary>Size of the union of the given sets.</summary>
    public static int UnionCount(IReadOnlyList<ExpertSet> sets, IEnumerable<int> members)
    {
        ulong[]? acc = null;
        foreach (int m in members)
        {
            var b = sets[m].bits;
            acc ??= new ulong[b.Length];
            for (int i = 0; i < b.Length; i++) acc[i] |= b[i];
        }
        return acc?.Sum(w => BitOperations.PopCount(w)) ?? 0;
    }
}
