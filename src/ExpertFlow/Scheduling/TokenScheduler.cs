namespace ExpertFlow.Scheduling;

/// <summary>
/// ExpertFlow's token scheduler: regroups the sequences of two batches (2T) into two batches of T so that
/// the sum over batches of the distinct (layer, expert) pairs each activates, |OR R1| + |OR R2|, is small.
/// Exact minimisation is NP-hard; as in the paper this is a k-means-like 2-way clustering over Hamming
/// similarity of the predicted paths (balanced assignment each round), followed by a pairwise-swap pass
/// that accepts only swaps lowering the true cost.
/// </summary>
public static class TokenScheduler
{
    /// <summary>Cost of a split: distinct experts of the first batch plus distinct experts of the second.</summary>
    public static int Cost(IReadOnlyList<ExpertSet> paths, IReadOnlyList<int> first, IReadOnlyList<int> second) =>
        ExpertSet.UnionCount(paths, first) + ExpertSet.UnionCount(paths, second);

    /// <summary>Splits an even number of sequences into two equal halves of low cost.</summary>
    public static BatchSplit Split(IReadOnlyList<ExpertSet> paths, int maxIterations = 10, int maxSwapPasses = 4)
    {
        int n = paths.Count;
        if (n % 2 != 0) throw new ArgumentException($"the token scheduler splits an even number of sequences into two equal batches; got {n}");
        int half = n / 2;
        if (n == 0) return new BatchSplit([], [], 0);
        var similarity = new int[n, n];
        for (int i = 0; i < n; i++)
            for (int j = i; j < n; j++)
                similarity[i, j] = similarity[j, i] = paths[i].HammingSimilarity(paths[j]);

        // Seeds: the two most dissimilar paths.
        int seedA = 0, seedB = Math.Min(1, n - 1);
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                if (similarity[i, j] < similarity[seedA, seedB]) (seedA, seedB) = (i, j);
        var inFirst = new bool[n];
        var firstMembers = new List<int> { seedA };
        var secondMembers = new List<int> { seedB };
        for (int iteration = 0; iteration < maxIterations; iteration++)
        {
            // Preference for the first cluster: mean similarity to its members minus mean similarity to the second's.
            var preference = new double[n];
            for (int i = 0; i < n; i++)
                preference[i] = firstMembers.Average(m => similarity[i, m]) - secondMembers.Average(m => similarity[i, m]);
            var order = Enumerable.Range(0, n).OrderByDescending(i => preference[i]).ThenBy(i => i).ToArray();
            var next = new bool[n];
            for (int r = 0; r < half; r++) next[order[r]] = true;
            bool changed = iteration == 0 || !next.SequenceEqual(inFirst);
            inFirst = next;
            firstMembers = Enumerable.Range(0, n).Where(i => inFirst[i]).ToList();
            secondMembers = Enumerable.Range(0, n).Where(i => !inFirst[i]).ToList();
            if (!changed) break;
        }
        int cost = Cost(paths, firstMembers, secondMembers);
        for (int pass = 0; pass < maxSwapPasses; pass++)
        {
            bool improved = false;
            for (int a = 0; a < half; a++)
                for (int b = 0; b < half; b++)
                {
                    (firstMembers[a], secondMembers[b]) = (secondMembers[b], firstMembers[a]);
                    int swapped = Cost(paths, firstMembers, secondMembers);
                    if (swapped < cost) { cost = swapped; improved = true; }
                    else (firstMembers[a], secondMembers[b]) = (secondMembers[b], firstMembers[a]);
                }
            if (!improved) break;
        }
        firstMembers.Sort();
        secondMembers.Sort();
        return new BatchSplit(firstMembers.ToArray(), secondMembers.ToArray(), cost);
    }

    /// <summary>The optimal split by enumeration (for tests and small cases; n at most 20).</summary>
    public static BatchSplit BruteForce(IReadOnlyList<ExpertSet> paths)
    {
        int n = paths.Count;
        if (n % 2 != 0 || n > 20) throw new ArgumentException($"brute force needs an even number of sequences, at most 20; got {n}");
        BatchSplit? best = null;
        // Sequence 0 is always in the first batch (the split is symmetric).
        for (int mask = 0; mask < 1 << n; mask++)
        {
            if ((mask & 1) == 0 || System.Numerics.BitOperations.PopCount((uint)mask) != n / 2) continue;
            var first = Enumerable.Range(0, n).Where(i => (mask >> i & 1) != 0).ToArray();
            var second = Enumerable.Range(0, n).Where(i => (mask >> i & 1) == 0).ToArray();
            int cost = Cost(paths, first, second);
            if (best is null || cost < best.Cost) best = new BatchSplit(first, second, cost);
        }
        return best ?? new BatchSplit([], [], 0);
    }
}
