namespace Kimad.Allocation;

/// <summary>
/// Exact dynamic programme for the multiple-choice knapsack over a budget discretised into D units.
/// A size s costs ceil(s * D / B) units (integer arithmetic), so any answer within D units is within the
/// byte budget; the answer is optimal whenever all sizes are multiples of B / D. O(layers * options * D) time.
/// </summary>
public sealed class MultipleChoiceKnapsack
{
    double[] current = [], next = [];
    byte[] choice = [];

    /// <summary>Solves <paramref name="problem"/>; the instance's buffers are reused between calls (not thread-safe).</summary>
    public KnapsackSolution Solve(KnapsackProblem problem)
    {
        var dp = Fill(problem);
        int d = problem.Discretization;
        if (double.IsPositiveInfinity(dp[d])) return Smallest(problem);
        return Backtrack(problem, d);
    }

    /// <summary>
    /// Solves the problem for every budget from 0 to <see cref="KnapsackProblem.BudgetBytes"/> at once (the same
    /// programme gives all of them) and returns the solution whose budget maximises
    /// <paramref name="score"/>(budget bytes, least error within it). Used by the auto budget: the budget that
    /// delivers the most per second of round time. Ties go to the smaller budget.
    /// </summary>
    public KnapsackSolution SolveBest(KnapsackProblem problem, Func<double, double, double> score)
    {
        var dp = Fill(problem);
        int d = problem.Discretization, best = -1;
        double bestScore = double.NegativeInfinity;
        for (int c = 0; c <= d; c++)
        {
            if (double.IsPositiveInfinity(dp[c])) continue;
            double value = score((double)c * problem.BudgetBytes / d, dp[c]);
            if (value > bestScore) { bestScore = value; best = c; }
        }
        return best < 0 ? Smallest(problem) : Backtrack(problem, best);
    }

    /// <summary>
    /// The programme: after it, entry c is the least total error of a choice within c budget units (infinite when
    /// none fits), and the choice table holds each layer's option for every capacity.
    /// </summary>
    ReadOnlySpan<double> Fill(KnapsackProblem problem)
    {
        Validate(problem);
        int layers = problem.Layers.Count, d = problem.Discretization;
        long budget = problem.BudgetBytes;
        if (current.Length < d + 1) { current = new double[d + 1]; next = new double[d + 1]; }
        if (choice.Length < layers * (d + 1)) choice = new byte[layers * (d + 1)];
        Span<double> dp = current.AsSpan(0, d + 1), nx = next.AsSpan(0, d + 1);
        dp.Clear();
        Span<int> units = stackalloc int[256];
        Span<double> errors = stackalloc double[256];
        for (int l = 0; l < layers; l++)
        {
            var options = problem.Layers[l].Options;
            int count = options.Count;
            for (int j = 0; j < count; j++)
            {
                units[j] = Units(options[j].Bytes, problem);
                errors[j] = options[j].Error;
            }
            Span<byte> ch = choice.AsSpan(l * (d + 1), d + 1);
            nx.Fill(double.PositiveInfinity);
            ch.Clear();
            // Option-major loops over contiguous spans: nx[c] = min_j dp[c - u_j] + e_j.
            for (int j = 0; j < count; j++)
            {
                int u = units[j];
                if (u > d) continue;
                double e = errors[j];
                var from = dp[..(d + 1 - u)];
                var to = nx[u..];
                var chTo = ch[u..];
                for (int c = 0; c < from.Length; c++)
                {
                    double v = from[c] + e;
                    if (v < to[c]) { to[c] = v; chTo[c] = (byte)j; }
                }
            }
            var t = dp; dp = nx; nx = t;
        }
        return dp;
    }

    static int Units(long bytes, KnapsackProblem problem) =>
        problem.BudgetBytes <= 0 ? int.MaxValue : (int)Math.Min(int.MaxValue, CeilDiv(bytes * (long)problem.Discretization, problem.BudgetBytes));

    KnapsackSolution Backtrack(KnapsackProblem problem, int capacity)
    {
        int layers = problem.Layers.Count, d = problem.Discretization;
        var choices = new int[layers];
        for (int l = layers - 1; l >= 0; l--)
        {
            int j = choice[l * (d + 1) + capacity];
            choices[l] = j;
            capacity -= Units(problem.Layers[l].Options[j].Bytes, problem);
        }
        return Totals(problem, choices, feasible: true);
    }

    static KnapsackSolution Smallest(KnapsackProblem problem) =>
        Totals(problem, problem.Layers.Select(l => Smallest(l.Options)).ToArray(), feasible: false);

    static long CeilDiv(long a, long b) => (a + b - 1) / b;

    static int Smallest(IReadOnlyList<KnapsackOption> options)
    {
        int best = 0;
        for (int j = 1; j < options.Count; j++) if (options[j].Bytes < options[best].Bytes) best = j;
        return best;
    }

    internal static KnapsackSolution Totals(KnapsackProblem problem, int[] choices, bool feasible)
    {
        long bytes = 0;
        double error = 0;
        for (int l = 0; l < choices.Length; l++)
        {
            bytes += problem.Layers[l].Options[choices[l]].Bytes;
            error += problem.Layers[l].Options[choices[l]].Error;
        }
        return new KnapsackSolution(choices, bytes, error, feasible);
    }

    static void Validate(KnapsackProblem p)
    {
        if (p.Discretization is < 1 or > 1_000_000) throw new ArgumentException($"discretization {p.Discretization}: use 1..1000000 steps");
        if (p.BudgetBytes < 0) throw new ArgumentException($"budget_bytes {p.BudgetBytes} is negative");
        if (p.Layers is null || p.Layers.Count == 0) throw new ArgumentException("the problem has no layers");
        foreach (var layer in p.Layers)
        {
            if (layer.Options is null || layer.Options.Count == 0) throw new ArgumentException($"layer '{layer.Name}' has no options");
            if (layer.Options.Count > 256) throw new ArgumentException($"layer '{layer.Name}' has {layer.Options.Count} options; at most 256");
            foreach (var o in layer.Options)
            {
                if (o.Bytes < 0) throw new ArgumentException($"layer '{layer.Name}': negative size {o.Bytes}");
                if (!double.IsFinite(o.Error) || o.Error < 0) throw new ArgumentException($"layer '{layer.Name}': error {o.Error} must be finite and >= 0");
                if (o.Bytes > long.MaxValue / Math.Max(1, p.Discretization)) throw new ArgumentException($"layer '{layer.Name}': size {o.Bytes} too large");
            }
        }
    }
}
