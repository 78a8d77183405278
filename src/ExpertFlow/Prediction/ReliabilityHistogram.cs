namespace ExpertFlow.Prediction;

/// <summary>Collects (probability, outcome) pairs into equal-width bins and gives their <see cref="Reliability"/>.</summary>
public sealed class ReliabilityHistogram
{
    readonly long[] counts, positives;
    readonly double[] sums;

    public ReliabilityHistogram(int bins = 10)
    {
        if (bins < 1) throw new ArgumentOutOfRangeException(nameof(bins), "a reliability diagram has at least one bin");
        counts = new long[bins];
        positives = new long[bins];
        sums = new double[bins];
    }

    /// <summary>Adds one prediction of probability <paramref name="p"/> (clamped to [0, 1]) and whether it came true.</summary>
    public void Add(double p, bool outcome)
    {
        p = Math.Clamp(p, 0, 1);
        int b = Math.Min(counts.Length - 1, (int)(p * counts.Length));
        counts[b]++;
        sums[b] += p;
        if (outcome) positives[b]++;
    }

    public Reliability ToReliability(string scores, string mode)
    {
        long total = counts.Sum();
        var bins = new ReliabilityBin[counts.Length];
        double ece = 0;
        for (int b = 0; b < counts.Length; b++)
        {
            double? mean = null, observed = null;
            if (counts[b] > 0)
            {
                mean = sums[b] / counts[b];
                observed = (double)positives[b] / counts[b];
                ece += (double)counts[b] / total * Math.Abs(mean.Value - observed.Value);
            }
            bins[b] = new ReliabilityBin((double)b / counts.Length, (double)(b + 1) / counts.Length, counts[b], mean, observed);
        }
        return new Reliability(scores, mode, bins, ece, total);
    }
}
