using Kimad.Allocation;

namespace Kimad.Compression;

/// <summary>
/// What a round costs a sender: a fixed part that does not depend on the message (compute, per-message latency,
/// the other direction) plus the link's seconds per byte. Given this, an auto-budget method sizes the message itself.
/// </summary>
public readonly record struct LinkTiming(double FixedSeconds, double SecondsPerByte);

/// <summary>
/// How a sender picks the level of every layer in a round, given the vectors to send and the byte budget
/// (estimated bandwidth x time budget; null when nothing has been measured yet).
/// </summary>
public abstract class CompressionMethod
{
    public abstract string Name { get; }

    /// <summary>Kept fraction per layer (1 = identity).</summary>
    public abstract double[] Choose(IReadOnlyList<float[]> vectors, double? budgetBytes);

    /// <summary>True for the auto-budget variants (<c>kimad:auto</c>, <c>kimad+:auto</c>): they use
    /// <see cref="ChooseForRate"/> and ignore the time budget.</summary>
    public virtual bool SizesItself => false;

    /// <summary>
    /// Auto budget: the levels that maximise EF21's contraction per second of round time, theta / (fixed + bytes x
    /// seconds per byte), where theta = 1 - sqrt(1 - alpha) and alpha = 1 - sum ||C(v_l) - v_l||^2 / sum ||v_l||^2 is the
    /// share of the difference's energy the message carries (EF21's analysis: the gradient estimates' error shrinks
    /// by 1 - theta per round). A slow link then gets small messages and a fast one large messages, with no ratio or
    /// budget to tune. (Scoring alpha itself, which is linear in the bytes kept, chooses far too little on fast links.)
    /// </summary>
    public virtual double[] ChooseForRate(IReadOnlyList<float[]> vectors, LinkTiming timing) => throw new NotSupportedException($"{Name} uses a byte budget");

    /// <summary>The rate score of the auto budget, theta per second (see <see cref="ChooseForRate"/>).</summary>
    public static double ContractionPerSecond(double bytes, double error, double energy, LinkTiming timing) =>
        (energy > 0 ? 1 - Math.Sqrt(Math.Clamp(error / energy, 0, 1)) : 0) / (timing.FixedSeconds + bytes * timing.SecondsPerByte);

    internal static double Energy(IReadOnlyList<float[]> vectors)
    {
        double sum = 0;
        foreach (var v in vectors) foreach (float x in v) sum += (double)x * x;
        return sum;
    }

    /// <summary>"uncompressed", "ef21-fixed:RATIO", "kimad", "kimad+", "kimad:auto", "kimad+:auto".</summary>
    public static CompressionMethod Parse(string spec, int discretization = 1000)
    {
        string s = spec.Trim().ToLowerInvariant();
        if (s == "uncompressed") return new UncompressedMethod();
        if (s == "kimad") return new KimadMethod(CompressionLevels.Default);
        if (s == "kimad+") return new KimadPlusMethod(CompressionLevels.Default, discretization);
        if (s == "kimad:auto") return new KimadMethod(CompressionLevels.Default, autoBudget: true);
        if (s == "kimad+:auto") return new KimadPlusMethod(CompressionLevels.Default, discretization, autoBudget: true);
        if (s.StartsWith("ef21-fixed:", StringComparison.Ordinal)
            && double.TryParse(s["ef21-fixed:".Length..], System.Globalization.CultureInfo.InvariantCulture, out double r) && r > 0 && r <= 1)
            return new FixedRatioMethod(r);
        throw new ArgumentException($"unknown method '{spec}': use uncompressed, ef21-fixed:RATIO (0 < RATIO <= 1), kimad, kimad+, kimad:auto or kimad+:auto");
    }
}

/// <summary>Identity on every layer.</summary>
public sealed class UncompressedMethod : CompressionMethod
{
    public override string Name => "uncompressed";
    public override double[] Choose(IReadOnlyList<float[]> vectors, double? budgetBytes) => vectors.Select(_ => 1.0).ToArray();
}

/// <summary>EF21 with TopK at one fixed ratio on every layer.</summary>
public sealed class FixedRatioMethod(double ratio) : CompressionMethod
{
    public double Ratio => ratio;
    public override string Name => FormattableString.Invariant($"ef21-fixed:{ratio:G4}");
    public override double[] Choose(IReadOnlyList<float[]> vectors, double? budgetBytes) => vectors.Select(_ => ratio).ToArray();
}

/// <summary>Kimad: one ratio for the whole model, the largest level whose message fits the budget.</summary>
public sealed class KimadMethod(IReadOnlyList<double> levels, bool autoBudget = false) : CompressionMethod
{
    public override string Name => autoBudget ? "kimad:auto" : "kimad";
    public override bool SizesItself => autoBudget;

    /// <summary>Auto budget: the one ratio (for all layers) with the best EF21 contraction per second.</summary>
    public override double[] ChooseForRate(IReadOnlyList<float[]> vectors, LinkTiming timing)
    {
        var lengths = vectors.Select(v => v.Length).ToArray();
        var errors = new double[levels.Count];
        var total = new double[levels.Count];
        foreach (var v in vectors)
        {
            CompressionLevels.Errors(v, levels, errors);
            for (int j = 0; j < levels.Count; j++) total[j] += errors[j];
        }
        double energy = Energy(vectors), bestScore = double.NegativeInfinity, chosen = levels.Min();
        for (int j = 0; j < levels.Count; j++)
        {
            double score = ContractionPerSecond(ModelCodec.Bytes(lengths, Enumerable.Repeat(levels[j], lengths.Length).ToArray()), total[j], energy, timing);
            if (score > bestScore) { bestScore = score; chosen = levels[j]; }
        }
        return Enumerable.Repeat(chosen, vectors.Count).ToArray();
    }

    public override double[] Choose(IReadOnlyList<float[]> vectors, double? budgetBytes)
    {
        var lengths = vectors.Select(v => v.Length).ToArray();
        var ordered = levels.OrderByDescending(r => r).ToArray();
        double chosen = ordered[^1];
        if (budgetBytes is { } budget)
        {
            foreach (double r in ordered)
                if (ModelCodec.Bytes(lengths, Enumerable.Repeat(r, lengths.Length).ToArray()) <= budget) { chosen = r; break; }
        }
        return Enumerable.Repeat(chosen, vectors.Count).ToArray();
    }
}

/// <summary>Kimad+: one level per layer by the exact multiple-choice knapsack on measured errors.</summary>
public sealed class KimadPlusMethod(IReadOnlyList<double> levels, int discretization, bool autoBudget = false) : CompressionMethod
{
    readonly MultipleChoiceKnapsack solver = new();
    public override string Name => autoBudget ? "kimad+:auto" : "kimad+";
    public override bool SizesItself => autoBudget;

    /// <summary>
    /// Auto budget: one knapsack programme over budgets up to the uncompressed size gives the least error for
    /// every budget; the budget with the best EF21 contraction per second wins (see <see cref="CompressionMethod.ChooseForRate"/>).
    /// </summary>
    public override double[] ChooseForRate(IReadOnlyList<float[]> vectors, LinkTiming timing)
    {
        long all = ModelCodec.Bytes(vectors.Select(v => v.Length).ToArray(), vectors.Select(_ => levels.Max()).ToArray());
        // Room for the rounding of every layer's size up to whole steps, so that sending everything stays a choice.
        long cap = all + (all * vectors.Count + discretization - 1) / discretization;
        var problem = BuildProblem(vectors, levels, cap, discretization);
        double energy = Energy(vectors);
        var solution = solver.SolveBest(problem, (bytes, error) => ContractionPerSecond(bytes, error, energy, timing));
        LastSolution = solution;
        return solution.Choices.Select(j => levels[j]).ToArray();
    }

    /// <summary>The last knapsack solution (for metrics).</summary>
    public KnapsackSolution? LastSolution { get; private set; }

    public override double[] Choose(IReadOnlyList<float[]> vectors, double? budgetBytes)
    {
        if (budgetBytes is null) return vectors.Select(_ => levels.Min()).ToArray();
        // Everything uncompressed fits: identity (error 0) is the knapsack's optimum; skip the error profiles,
        // which cost milliseconds per round (a tenth of a CNN round on a fast link).
        if (levels.Contains(1.0) && ModelCodec.Bytes(vectors.Select(v => v.Length).ToArray(), vectors.Select(_ => 1.0).ToArray()) <= budgetBytes.Value)
        {
            LastSolution = null;
            return vectors.Select(_ => 1.0).ToArray();
        }
        var problem = BuildProblem(vectors, levels, (long)Math.Max(0, budgetBytes.Value), discretization);
        var solution = solver.Solve(problem);
        LastSolution = solution;
        return solution.Choices.Select(j => levels[j]).ToArray();
    }

    /// <summary>The knapsack instance: per layer and level, exact bytes and ||C(v) - v||^2.</summary>
    public static KnapsackProblem BuildProblem(IReadOnlyList<float[]> vectors, IReadOnlyList<double> levels, long budgetBytes, int discretization)
    {
        var layers = new KnapsackLayer[vectors.Count];
        var errors = new double[levels.Count];
        for (int l = 0; l < vectors.Count; l++)
        {
            CompressionLevels.Errors(vectors[l], levels, errors);
            var options = new KnapsackOption[levels.Count];
            for (int j = 0; j < levels.Count; j++) options[j] = new KnapsackOption(CompressionLevels.Bytes(levels[j], vectors[l].Length), errors[j]);
            layers[l] = new KnapsackLayer($"layer{l}", options);
        }
        return new KnapsackProblem(budgetBytes, discretization, layers);
    }
}
