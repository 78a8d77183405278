namespace Kimad.Compression;

/// <summary>
/// <c>kimad-progress</c>: Kimad+ (one level per layer by the knapsack) with the message size chosen to maximise the
/// training progress per second the sender measures, instead of a fixed time budget.
/// <para>Rule. The candidate message sizes ("arms") are q x the dense model size for q = 1, 1/4, 1/16, ..., 1/1024. For
/// each arm the sender keeps g_a, an exponential moving average (weight <see cref="Smoothing"/>) of the loss decrease per
/// round observed after the rounds it sent that arm: the caller reports, once per round, the decrease of the
/// training loss on one minibatch between the model before and after the round's update (<see cref="RecordProgress"/>).
/// An arm not yet observed borrows the nearest observed arm's value scaled by sqrt(q_a / q_b) (progress per round that
/// grows like the square root of the share sent; before any observation every arm uses sqrt(q_a)). Each round the arm
/// with the largest g_a / (F + b_a s) wins, where F is the part of the round that does not depend on the message and s
/// the link's seconds per byte (<see cref="LinkTiming"/>, from the bandwidth monitor): progress per round is learned,
/// the link's speed is measured, so a bandwidth change moves the choice at once without relearning. Decreases below
/// 5 % of the largest |g_b| count as that floor, so with no measurable progress the fastest arm wins. With probability
/// <see cref="Exploration"/> a neighbouring arm of the winner is sent instead, which keeps the estimates current as
/// training slows down. The message is the Kimad+ knapsack solution within the arm's bytes.</para>
/// </summary>
public sealed class KimadProgressMethod : CompressionMethod
{
    public static readonly double[] Shares = [1, 1 / 4.0, 1 / 16.0, 1 / 64.0, 1 / 256.0, 1 / 1024.0];
    public const double Smoothing = 0.25, Exploration = 0.15, Floor = 0.05;

    readonly KimadPlusMethod plus;
    readonly Random random;
    readonly double?[] progress = new double?[Shares.Length];
    readonly int[] counts = new int[Shares.Length];

    public KimadProgressMethod(LevelSet levels, int discretization, int seed = 0)
    {
        Levels = levels;
        plus = new KimadPlusMethod(levels, discretization);
        random = new Random(seed * 31 + 17);
    }

    public LevelSet Levels { get; }
    public override string Name => "kimad-progress" + (Levels.Spec == "topk" ? "" : "@" + Levels.Spec);
    public override bool SizesItself => true;

    /// <summary>The arm sent last (index into <see cref="Shares"/>); null before the first message.</summary>
    public int? LastArm { get; private set; }

    /// <summary>The current estimate of the loss decrease per round of every arm (observed or borrowed).</summary>
    public double[] Estimates()
    {
        var g = new double[Shares.Length];
        bool any = progress.Any(p => p is not null);
        for (int a = 0; a < Shares.Length; a++)
        {
            if (progress[a] is { } known) { g[a] = known; continue; }
            if (!any) { g[a] = Math.Sqrt(Shares[a]); continue; }
            int b = Enumerable.Range(0, Shares.Length).Where(i => progress[i] is not null).MinBy(i => Math.Abs(i - a));
            g[a] = Math.Max(0, progress[b]!.Value) * Math.Sqrt(Shares[a] / Shares[b]);
        }
        return g;
    }

    /// <summary>Observations of each arm so far.</summary>
    public IReadOnlyList<int> Counts => counts;

    /// <summary>The training-loss decrease the last message's round produced (positive = progress); ignored before the
    /// first message and when not finite.</summary>
    public void RecordProgress(double decrease)
    {
        if (LastArm is not { } a || !double.IsFinite(decrease)) return;
        progress[a] = progress[a] is { } old ? Smoothing * decrease + (1 - Smoothing) * old : decrease;
        counts[a]++;
    }

    /// <summary>The arm with the best estimated progress per second for a model of <paramref name="denseBytes"/> bytes.</summary>
    public int BestArm(double denseBytes, LinkTiming timing)
    {
        var g = Estimates();
        double floor = Math.Max(Floor * g.Max(Math.Abs), 1e-300);
        int best = 0;
        double bestScore = double.NegativeInfinity;
        for (int a = 0; a < Shares.Length; a++)
        {
            double score = Math.Max(g[a], floor) / (timing.FixedSeconds + Shares[a] * denseBytes * timing.SecondsPerByte);
            if (score > bestScore) { bestScore = score; best = a; }
        }
        return best;
    }

    public override ICompressor[] ChooseForRate(IReadOnlyList<float[]> vectors, LinkTiming timing)
    {
        double dense = vectors.Sum(v => (double)new IdentityCompressor().WireBytes(v.Length));
        int arm = BestArm(dense, timing);
        if (random.NextDouble() < Exploration) arm = Math.Clamp(arm + (random.Next(2) == 0 ? -1 : 1), 0, Shares.Length - 1);
        LastArm = arm;
        return plus.ChooseWithin(vectors, Shares[arm] * dense);
    }

    /// <summary>Before the link has been timed: the Kimad+ choice within the byte budget (no arm is credited).</summary>
    public override ICompressor[] Choose(IReadOnlyList<float[]> vectors, double? budgetBytes)
    {
        LastArm = null;
        return plus.ChooseWithin(vectors, budgetBytes);
    }
}
