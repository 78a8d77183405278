using Kimad.Allocation;

namespace Kimad.Compression;

/// <summary>
/// How a sender picks the level of every layer in a round, given the vectors to send and the byte budget
/// (estimated bandwidth x time budget; null when nothing has been measured yet).
/// </summary>
public abstract class CompressionMethod
{
    public abstract string Name { get; }

    /// <summary>Kept fraction per layer (1 = identity).</summary>
    public abstract double[] Choose(IReadOnlyList<float[]> vectors, double? budgetBytes);

    /// <summary>"uncompressed", "ef21-fixed:RATIO", "kimad", "kimad+".</summary>
    public static CompressionMethod Parse(string spec, int discretization = 1000)
    {
        string s = spec.Trim().ToLowerInvariant();
        if (s == "uncompressed") return new UncompressedMethod();
        if (s == "kimad") return new KimadMethod(CompressionLevels.Default);
        if (s == "kimad+") return new KimadPlusMethod(CompressionLevels.Default, discretization);
        if (s.StartsWith("ef21-fixed:", StringComparison.Ordinal)
            && double.TryParse(s["ef21-fixed:".Length..], System.Globalization.CultureInfo.InvariantCulture, out double r) && r > 0 && r <= 1)
            return new FixedRatioMethod(r);
        throw new ArgumentException($"unknown method '{spec}': use uncompressed, ef21-fixed:RATIO (0 < RATIO <= 1), kimad or kimad+");
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
public sealed class KimadMethod(IReadOnlyList<double> levels) : CompressionMethod
{
    public override string Name => "kimad";

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
public sealed class KimadPlusMethod(IReadOnlyList<double> levels, int discretization) : CompressionMethod
{
    readonly MultipleChoiceKnapsack solver = new();
    public override string Name => "kimad+";

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
