using Kimad.Allocation;

namespace Kimad.Compression;

/// <summary>
/// What a round costs a sender: a fixed part that does not depend on the message (compute, per-message latency,
/// the other direction) plus the link's seconds per byte. Given this, an auto-budget method sizes the message itself.
/// </summary>
public readonly record struct LinkTiming(double FixedSeconds, double SecondsPerByte);

/// <summary>
/// How a sender picks the level (compressor) of every layer in a round, given the vectors to send and the byte budget
/// (estimated bandwidth x time budget; null when nothing has been measured yet). An instance belongs to one sender (one
/// uplink, or the downlink to one worker): low-rank levels keep warm-start state, and the progress-aware method learns.
/// </summary>
public abstract class CompressionMethod
{
    public abstract string Name { get; }

    /// <summary>The compressor of every layer.</summary>
    public abstract ICompressor[] Choose(IReadOnlyList<float[]> vectors, double? budgetBytes);

    /// <summary>True for the methods that size the message themselves from the link's timing (<c>kimad:auto</c>,
    /// <c>kimad+:auto</c>, <c>kimad-progress</c>): they use <see cref="ChooseForRate"/> and ignore the time budget.</summary>
    public virtual bool SizesItself => false;

    /// <summary>
    /// Auto budget: the levels that maximise EF21's contraction per second of round time, theta / (fixed + bytes x
    /// seconds per byte), where theta = 1 - sqrt(1 - alpha) and alpha = 1 - sum ||C(v_l) - v_l||^2 / sum ||v_l||^2 is the
    /// share of the difference's energy the message carries (EF21's analysis: the gradient estimates' error shrinks
    /// by 1 - theta per round). A slow link then gets small messages and a fast one large messages, with no ratio or
    /// budget to tune. (Scoring alpha itself, which is linear in the bytes kept, chooses far too little on fast links.)
    /// </summary>
    public virtual ICompressor[] ChooseForRate(IReadOnlyList<float[]> vectors, LinkTiming timing) => throw new NotSupportedException($"{Name} uses a byte budget");

    /// <summary>The rate score of the auto budget, theta per second (see <see cref="ChooseForRate"/>).</summary>
    public static double ContractionPerSecond(double bytes, double error, double energy, LinkTiming timing) =>
        (energy > 0 ? 1 - Math.Sqrt(Math.Clamp(error / energy, 0, 1)) : 0) / (timing.FixedSeconds + bytes * timing.SecondsPerByte);

    internal static double Energy(IReadOnlyList<float[]> vectors)
    {
        double sum = 0;
        foreach (var v in vectors) foreach (float x in v) sum += (double)x * x;
        return sum;
    }

    internal static ICompressor[] Identity(IReadOnlyList<float[]> vectors) => vectors.Select(_ => (ICompressor)new IdentityCompressor()).ToArray();

    /// <summary>The method names <see cref="Parse"/> accepts (before an optional @LEVELS).</summary>
    public const string Help = "uncompressed, ef21-fixed:RATIO (TopK) or ef21-fixed:COMPRESSOR (randk:R, qsgd:S, natural, sign, fp16, bf16, powersgd:RANK), " +
        "kimad, kimad+, kimad:auto, kimad+:auto or kimad-progress, optionally followed by @LEVELS (e.g. kimad+@mixed)";

    /// <summary>
    /// "uncompressed", "ef21-fixed:RATIO" or "ef21-fixed:COMPRESSOR", "kimad", "kimad+", "kimad:auto", "kimad+:auto",
    /// "kimad-progress"; the adaptive ones take a level set after '@' ("kimad+@qsgd,fp16"), else <paramref name="levels"/>
    /// (default topk). <paramref name="layerRows"/>: rows of each layer's matrix view, for low-rank levels.
    /// </summary>
    public static CompressionMethod Parse(string spec, int discretization = 1000, string? levels = null, IReadOnlyList<int>? layerRows = null, int seed = 0)
    {
        string s = (spec ?? "").Trim().ToLowerInvariant();
        string? own = null;
        int at = s.IndexOf('@');
        if (at >= 0) { own = s[(at + 1)..]; s = s[..at]; }
        LevelSet Levels() => new(own ?? levels ?? "topk", layerRows, seed);
        void NoLevels() { if (own is not null) throw new ArgumentException($"method '{spec}': only the adaptive methods (kimad, kimad+, kimad:auto, kimad+:auto, kimad-progress) take @LEVELS"); }
        switch (s)
        {
            case "uncompressed": NoLevels(); return new UncompressedMethod();
            case "kimad": return new KimadMethod(Levels());
            case "kimad+": return new KimadPlusMethod(Levels(), discretization);
            case "kimad:auto": return new KimadMethod(Levels(), autoBudget: true);
            case "kimad+:auto": return new KimadPlusMethod(Levels(), discretization, autoBudget: true);
            case "kimad-progress": return new KimadProgressMethod(Levels(), discretization, seed);
        }
        if (s.StartsWith("ef21-fixed:", StringComparison.Ordinal))
        {
            NoLevels();
            string level = s["ef21-fixed:".Length..];
            if (double.TryParse(level, System.Globalization.CultureInfo.InvariantCulture, out double r))
                return r > 0 && r <= 1 ? new FixedRatioMethod(r) : throw new ArgumentException($"method '{spec}': the TopK ratio must be in (0, 1]");
            return new FixedLevelMethod(level, layerRows, seed);
        }
        throw new ArgumentException($"unknown method '{spec}': use {Help}");
    }

    /// <summary>
    /// The downlink's method for an uplink method: the same, except that <c>kimad-progress</c> (whose signal, the loss
    /// decrease, is measured by the workers) has the server size downlinks by <c>kimad+:auto</c> over the same levels.
    /// </summary>
    public static string DownlinkSpec(string spec)
    {
        string s = spec.Trim().ToLowerInvariant();
        return s.StartsWith("kimad-progress", StringComparison.Ordinal) ? "kimad+:auto" + s["kimad-progress".Length..] : s;
    }

    /// <summary>The method spec with the level set made explicit when it is not the default (what the server sends its
    /// workers): "kimad+" with levels "mixed" gives "kimad+@mixed". Validates both.</summary>
    public static string Qualify(string spec, string? levels)
    {
        var method = Parse(spec, levels: levels);
        string s = spec.Trim().ToLowerInvariant();
        if (s.Contains('@') || method is not (KimadMethod or KimadPlusMethod or KimadProgressMethod)) return s;
        string set = LevelSet.Normalize(levels ?? "topk");
        return set == "topk" ? s : $"{s}@{set}";
    }
}

/// <summary>Identity on every layer.</summary>
public sealed class UncompressedMethod : CompressionMethod
{
    public override string Name => "uncompressed";
    public override ICompressor[] Choose(IReadOnlyList<float[]> vectors, double? budgetBytes) => Identity(vectors);
}

/// <summary>EF21 with TopK at one fixed ratio on every layer.</summary>
public sealed class FixedRatioMethod(double ratio) : CompressionMethod
{
    public double Ratio => ratio;
    public override string Name => FormattableString.Invariant($"ef21-fixed:{ratio:G4}");
    public override ICompressor[] Choose(IReadOnlyList<float[]> vectors, double? budgetBytes) =>
        vectors.Select(_ => CompressionLevels.For(ratio)).ToArray();
}

/// <summary>
/// EF21 with one fixed compressor on every layer: randk:R (contractive form), qsgd:S (contractive form), natural, sign, fp16,
/// bf16 or powersgd:RANK (a layer that is not a matrix, or whose rank-RANK message would not be smaller, is sent dense;
/// the rank is capped at min(rows, cols)).
/// </summary>
public sealed class FixedLevelMethod : CompressionMethod
{
    readonly Func<int, int, ICompressor> make;
    readonly LevelSet? lowRank;

    public FixedLevelMethod(string level, IReadOnlyList<int>? layerRows = null, int seed = 0)
    {
        string[] parts = level.Split(':');
        Name = "ef21-fixed:" + level;
        if (parts[0] == "powersgd")
        {
            int rank = parts.Length == 2 && int.TryParse(parts[1], out int k) && k >= 1 ? k : throw new ArgumentException($"'{Name}': use powersgd:RANK with RANK >= 1");
            lowRank = new LevelSet("powersgd", layerRows, seed);
            make = (layer, n) => lowRank.LowRank(layer, n) is { } st && LowRankCompressor.Bytes(st.Rows, st.Cols, Math.Min(rank, st.MaxRank)) < new IdentityCompressor().WireBytes(n)
                ? new LowRankCompressor(Math.Min(rank, st.MaxRank), st) : new IdentityCompressor();
            return;
        }
        ICompressor c;
        try { c = Compressors.Parse(level); }
        catch (ArgumentException e) { throw new ArgumentException($"method '{Name}': {e.Message}"); }
        c = c switch
        {
            RandKCompressor r => new RandKCompressor(r.Ratio, unbiased: false),
            QsgdCompressor q => new QsgdCompressor(q.Levels, contractive: true),
            _ => c,
        };
        make = (_, _) => c;
    }

    public override string Name { get; }
    public override ICompressor[] Choose(IReadOnlyList<float[]> vectors, double? budgetBytes) => vectors.Select((v, l) => make(l, v.Length)).ToArray();
}

/// <summary>Kimad: one level for the whole model, the one with the least total error among those whose message fits
/// (a layer without that level, e.g. a bias under low rank, is sent dense); the smallest message when none fits.
/// With TopK levels this is the largest ratio that fits.</summary>
public sealed class KimadMethod(LevelSet levels, bool autoBudget = false) : CompressionMethod
{
    public LevelSet Levels => levels;
    public override string Name => (autoBudget ? "kimad:auto" : "kimad") + (levels.Spec == "topk" ? "" : "@" + levels.Spec);
    public override bool SizesItself => autoBudget;

    /// <summary>Auto budget: the one level (for all layers) with the best EF21 contraction per second.</summary>
    public override ICompressor[] ChooseForRate(IReadOnlyList<float[]> vectors, LinkTiming timing)
    {
        var whole = WholeModelLevels(vectors);
        double energy = Energy(vectors);
        return whole.MaxBy(w => ContractionPerSecond(w.Bytes, w.Error, energy, timing)).Choice;
    }

    public override ICompressor[] Choose(IReadOnlyList<float[]> vectors, double? budgetBytes)
    {
        var whole = WholeModelLevels(vectors);
        var fitting = budgetBytes is { } budget ? whole.Where(w => w.Bytes <= budget).ToList() : [];
        return fitting.Count > 0 ? fitting.MinBy(w => w.Error).Choice : whole.MinBy(w => w.Bytes).Choice;
    }

    /// <summary>Per level name: every layer's compressor (dense where the layer lacks it), total bytes and error.</summary>
    List<(ICompressor[] Choice, long Bytes, double Error)> WholeModelLevels(IReadOnlyList<float[]> vectors)
    {
        var profiles = vectors.Select((v, l) => levels.Profile(l, v)).ToList();
        var names = profiles.SelectMany(p => p.Select(o => o.Compressor.Name)).Distinct().ToList();
        var result = new List<(ICompressor[], long, double)>(names.Count);
        foreach (var name in names)
        {
            var choice = new ICompressor[vectors.Count];
            long bytes = 0;
            double error = 0;
            for (int l = 0; l < vectors.Count; l++)
            {
                var o = profiles[l].FirstOrDefault(x => x.Compressor.Name == name);
                if (o.Compressor is null) o = profiles[l][0];   // identity
                choice[l] = o.Compressor;
                bytes += o.Bytes;
                error += o.Error;
            }
            result.Add((choice, bytes, error));
        }
        return result;
    }
}

/// <summary>Kimad+: one level per layer by the exact multiple-choice knapsack on measured errors.</summary>
public sealed class KimadPlusMethod(LevelSet levels, int discretization, bool autoBudget = false) : CompressionMethod
{
    readonly MultipleChoiceKnapsack solver = new();
    public LevelSet Levels => levels;
    public override string Name => (autoBudget ? "kimad+:auto" : "kimad+") + (levels.Spec == "topk" ? "" : "@" + levels.Spec);
    public override bool SizesItself => autoBudget;

    /// <summary>
    /// Auto budget: one knapsack programme over budgets up to the uncompressed size gives the least error for
    /// every budget; the budget with the best EF21 contraction per second wins (see <see cref="CompressionMethod.ChooseForRate"/>).
    /// </summary>
    public override ICompressor[] ChooseForRate(IReadOnlyList<float[]> vectors, LinkTiming timing)
    {
        var (problem, options) = BuildProblem(vectors, levels, DenseCap(vectors, discretization), discretization);
        double energy = Energy(vectors);
        var solution = solver.SolveBest(problem, (bytes, error) => ContractionPerSecond(bytes, error, energy, timing));
        LastSolution = solution;
        return Pick(options, solution);
    }

    /// <summary>The dense size plus room for the rounding of every layer's size up to whole steps, so that sending
    /// everything stays a choice of a programme over this budget.</summary>
    internal static long DenseCap(IReadOnlyList<float[]> vectors, int discretization)
    {
        long all = vectors.Sum(v => (long)new IdentityCompressor().WireBytes(v.Length));
        return all + (all * vectors.Count + discretization - 1) / discretization;
    }

    /// <summary>The last knapsack solution (for metrics).</summary>
    public KnapsackSolution? LastSolution { get; private set; }

    public override ICompressor[] Choose(IReadOnlyList<float[]> vectors, double? budgetBytes) => ChooseWithin(vectors, budgetBytes);

    /// <summary>The knapsack's choice within <paramref name="budgetBytes"/> (null: every layer's smallest level).</summary>
    internal ICompressor[] ChooseWithin(IReadOnlyList<float[]> vectors, double? budgetBytes)
    {
        // Everything uncompressed fits: identity (error 0) is the knapsack's optimum; skip the error profiles,
        // which cost milliseconds per round (a tenth of a CNN round on a fast link).
        if (budgetBytes is { } b && vectors.Sum(v => (long)new IdentityCompressor().WireBytes(v.Length)) <= b)
        {
            LastSolution = null;
            return Identity(vectors);
        }
        var (problem, options) = BuildProblem(vectors, levels, (long)Math.Max(0, budgetBytes ?? 0), discretization);
        var solution = solver.Solve(problem);
        LastSolution = solution;
        return Pick(options, solution);
    }

    static ICompressor[] Pick(List<List<LevelOption>> options, KnapsackSolution solution) =>
        solution.Choices.Select((j, l) => options[l][j].Compressor).ToArray();

    /// <summary>The knapsack instance: per layer and level, exact bytes and error; and the levels behind each option.</summary>
    public static (KnapsackProblem Problem, List<List<LevelOption>> Options) BuildProblem(IReadOnlyList<float[]> vectors, LevelSet levels, long budgetBytes, int discretization)
    {
        var options = vectors.Select((v, l) => levels.Profile(l, v)).ToList();
        var layers = options.Select((o, l) => new KnapsackLayer($"layer{l}", o.Select(x => new KnapsackOption(x.Bytes, x.Error)).ToArray())).ToArray();
        return (new KnapsackProblem(budgetBytes, discretization, layers), options);
    }
}
