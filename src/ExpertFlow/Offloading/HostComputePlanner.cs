namespace ExpertFlow.Offloading;

/// <summary>
/// Decides which of a layer's missed experts the host CPU computes (straight from the host arena) instead of the link
/// copying them (<c>+cpu</c>). At small token counts a CPU reads an expert from RAM about as fast as the link copies it,
/// so splitting a layer's misses between the two roughly halves the layer's wait (Fiddler's observation for
/// single-batch MoE inference). The split is greedy over the misses, fewest tokens first: each goes where it would
/// finish first, by the measured time of a copy and of a host computation with that many tokens (moving averages;
/// before the first measurement of either, the two are taken as equal). On a CPU compute device every miss is computed
/// in place (a copy would buy nothing).
/// </summary>
public sealed class HostComputePlanner(bool computeDeviceIsCpu)
{
    /// <summary>A layer with misses sends one to the host at least this often.</summary>
    const int ProbeEvery = 16;
    readonly Dictionary<int, double> hostSeconds = []; // host compute time per expert by token count (moving average)
    int layersWithoutHost;
    double copySeconds;      // one expert's demand copy (moving average; 0 until measured)

    /// <summary>Per miss (their token counts), whether the host computes it.</summary>
    public bool[] Plan(IReadOnlyList<int> missTokens)
    {
        // The first host computations of a process are slow (threads start, pages fault in): without an occasional
        // probe, an estimate taken then would keep the host idle for good.
        bool probe = ++layersWithoutHost >= ProbeEvery;
        double copy = copySeconds > 0 ? copySeconds : hostSeconds.GetValueOrDefault(1, 1e-3);
        var onHost = computeDeviceIsCpu ? missTokens.Select(_ => true).ToArray() : SplitMisses(missTokens, n => HostEstimate(n, copy), copy, probe);
        if (onHost.Any(h => h)) layersWithoutHost = 0;
        return onHost;
    }

    /// <summary>
    /// The greedy split of a layer's misses (their token counts) between the host and the link: fewest tokens first,
    /// each where it would finish first, the host taking <paramref name="hostSeconds"/>(tokens) per expert and the link
    /// <paramref name="copySeconds"/> per copy. With <paramref name="probe"/> the first miss goes to the host whatever
    /// the estimates say. Returns, per miss, whether the host computes it.
    /// </summary>
    public static bool[] SplitMisses(IReadOnlyList<int> tokens, Func<int, double> hostSeconds, double copySeconds, bool probe = false)
    {
        var onHost = new bool[tokens.Count];
        double host = 0, link = 0;
        foreach (int m in Enumerable.Range(0, tokens.Count).OrderBy(m => tokens[m]))
        {
            double h = hostSeconds(tokens[m]);
            if (probe || host + h <= link + copySeconds) { host += h; onHost[m] = true; probe = false; }
            else link += copySeconds;
        }
        return onHost;
    }

    /// <summary>The host computed an expert with <paramref name="tokens"/> tokens in <paramref name="seconds"/>.</summary>
    public void HostComputed(int tokens, double seconds)
    {
        int bucket = Math.Min(tokens, 64);
        hostSeconds[bucket] = hostSeconds.TryGetValue(bucket, out double old) ? 0.8 * old + 0.2 * seconds : seconds;
    }

    /// <summary>A step's demand copies: <paramref name="copies"/> of them took <paramref name="seconds"/> on the link.</summary>
    public void Copied(long copies, double seconds)
    {
        if (copies <= 0 || seconds <= 0) return;
        double perCopy = seconds / copies;
        copySeconds = copySeconds == 0 ? perCopy : 0.8 * copySeconds + 0.2 * perCopy;
    }

    double HostEstimate(int tokens, double copy)
    {
        int bucket = Math.Min(tokens, 64);
        if (hostSeconds.TryGetValue(bucket, out double s)) return s;
        if (hostSeconds.TryGetValue(1, out double one)) return one * tokens; // pessimistic: a CPU matmul grows slower than that
        return copy;
    }
}
