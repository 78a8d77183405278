using System.Diagnostics;
using System.Text.Json;
using Kimad.Allocation;
using Kimad.Compression;

namespace Kimad.Tests;

public class KnapsackTests
{
    static KnapsackProblem RandomProblem(Random r, int layers, int options, long budget, int d, long? sizeStep)
    {
        var ls = Enumerable.Range(0, layers).Select(l => new KnapsackLayer($"l{l}", Enumerable.Range(0, options).Select(_ =>
        {
            long bytes = sizeStep is { } s ? s * r.Next(0, 40) : r.Next(1, (int)(budget / 2));
            return new KnapsackOption(bytes, Math.Round(r.NextDouble() * 100, 3));
        }).ToArray())).ToArray();
        return new KnapsackProblem(budget, d, ls);
    }

    internal static (double Error, bool Feasible) BruteForce(KnapsackProblem p)
    {
        double best = double.PositiveInfinity;
        var idx = new int[p.Layers.Count];
        while (true)
        {
            long bytes = 0; double err = 0;
            for (int l = 0; l < idx.Length; l++) { bytes += p.Layers[l].Options[idx[l]].Bytes; err += p.Layers[l].Options[idx[l]].Error; }
            if (bytes <= p.BudgetBytes) best = Math.Min(best, err);
            int k = 0;
            while (k < idx.Length && ++idx[k] == p.Layers[k].Options.Count) idx[k++] = 0;
            if (k == idx.Length) break;
        }
        return (best, !double.IsPositiveInfinity(best));
    }

    [Fact]
    public void OptimalWhenSizesAreMultiplesOfTheStep()
    {
        var r = new Random(1);
        var solver = new MultipleChoiceKnapsack();
        for (int trial = 0; trial < 200; trial++)
        {
            int d = r.Next(10, 200);
            long step = r.Next(1, 50);
            var p = RandomProblem(r, r.Next(1, 6), r.Next(1, 5), step * d, d, step);
            var (best, feasible) = BruteForce(p);
            var s = solver.Solve(p);
            Assert.Equal(feasible, s.Feasible);
            Assert.True(s.TotalBytes <= p.BudgetBytes || !feasible);
            if (feasible) Assert.Equal(best, s.TotalError, 1e-9);
        }
    }

    [Fact]
    public void AlwaysWithinBudgetAndNeverBetterThanTheOptimum()
    {
        var r = new Random(2);
        var solver = new MultipleChoiceKnapsack();
        int optimalCount = 0, feasibleCount = 0;
        for (int trial = 0; trial < 300; trial++)
        {
            var p = RandomProblem(r, r.Next(1, 6), r.Next(1, 6), r.Next(100, 5000), r.Next(5, 300), null);
            var (best, feasible) = BruteForce(p);
            var s = solver.Solve(p);
            Assert.Equal(MultipleChoiceKnapsack.Totals(p, s.Choices, s.Feasible), s);   // totals consistent with the choices
            if (!s.Feasible) continue;
            feasibleCount++;
            Assert.True(s.TotalBytes <= p.BudgetBytes, $"trial {trial}: {s.TotalBytes} bytes over budget {p.BudgetBytes}");
            Assert.True(s.TotalError >= best - 1e-9);
            if (Math.Abs(s.TotalError - best) < 1e-9) optimalCount++;
        }
        Assert.True(feasibleCount > 100);
        Assert.True(optimalCount > feasibleCount / 2, $"optimal in only {optimalCount} of {feasibleCount} instances");
    }

    [Fact]
    public void InfeasibleBudgetReturnsTheSmallestOptions()
    {
        var p = new KnapsackProblem(10, 100, [new("a", [new(50, 0), new(20, 5)]), new("b", [new(30, 0), new(15, 1)])]);
        var s = new MultipleChoiceKnapsack().Solve(p);
        Assert.False(s.Feasible);
        Assert.Equal([1, 1], s.Choices);
    }

    [Fact]
    public void BadProblemsAreRejectedWithTheLayerName()
    {
        var solver = new MultipleChoiceKnapsack();
        Assert.Contains("'x'", Assert.Throws<ArgumentException>(() => solver.Solve(new KnapsackProblem(10, 10, [new("x", [])]))).Message);
        Assert.Contains("'y'", Assert.Throws<ArgumentException>(() => solver.Solve(new KnapsackProblem(10, 10, [new("y", [new(1, double.NaN)])]))).Message);
        Assert.Throws<ArgumentException>(() => solver.Solve(new KnapsackProblem(10, 0, [new("z", [new(1, 1)])])));
    }

    [Fact]
    public void SolveBestMaximisesTheScoreOverEveryBudget()
    {
        // Brute force: every combination, scored at its size rounded up to whole steps (what the programme sees).
        var r = new Random(3);
        var solver = new MultipleChoiceKnapsack();
        for (int trial = 0; trial < 200; trial++)
        {
            int d = r.Next(5, 200);
            var p = RandomProblem(r, r.Next(1, 5), r.Next(1, 5), r.Next(100, 5000), d, null);
            double fixedCost = r.NextDouble() * 10, perByte = r.NextDouble() * 0.01, total = 500;
            double Score(double bytes, double error) => (total - error) / (fixedCost + bytes * perByte);
            double best = double.NegativeInfinity;
            var idx = new int[p.Layers.Count];
            while (true)
            {
                long units = 0; double err = 0;
                for (int l = 0; l < idx.Length; l++)
                {
                    units += (p.Layers[l].Options[idx[l]].Bytes * d + p.BudgetBytes - 1) / p.BudgetBytes;
                    err += p.Layers[l].Options[idx[l]].Error;
                }
                if (units <= d) best = Math.Max(best, Score((double)units * p.BudgetBytes / d, err));
                int k = 0;
                while (k < idx.Length && ++idx[k] == p.Layers[k].Options.Count) idx[k++] = 0;
                if (k == idx.Length) break;
            }
            var s = solver.SolveBest(p, Score);
            if (double.IsNegativeInfinity(best)) { Assert.False(s.Feasible); continue; }
            long chosenUnits = s.Choices.Select((j, l) => (p.Layers[l].Options[j].Bytes * d + p.BudgetBytes - 1) / p.BudgetBytes).Sum();
            Assert.True(s.Feasible && chosenUnits <= d);
            Assert.Equal(best, Score((double)chosenUnits * p.BudgetBytes / d, s.TotalError), 1e-9);
        }
    }

    [Fact]
    public void AutoBudgetSendsMoreOnFasterLinks()
    {
        var r = new Random(6);
        float[][] v = [Enumerable.Range(0, 20_000).Select(_ => (float)(r.NextDouble() * 2 - 1) * (r.Next(20) == 0 ? 20 : 1)).ToArray(),
            Enumerable.Range(0, 500).Select(_ => (float)r.NextDouble()).ToArray()];
        int[] lengths = [20_000, 500];
        foreach (var method in new CompressionMethod[] { CompressionMethod.Parse("kimad+:auto"), CompressionMethod.Parse("kimad:auto") })
        {
            Assert.True(method.SizesItself);
            // 50 ms of compute per round; links of 1 Gbit/s, 10 Mbit/s and 100 kbit/s.
            long[] bytes = new[] { 1e9, 1e7, 1e5 }.Select(bps => ModelCodec.Bytes(lengths, method.ChooseForRate(v, new LinkTiming(0.05, 8 / bps)))).ToArray();
            Assert.Equal(ModelCodec.Bytes(lengths, [1.0, 1.0]), bytes[0]);   // a fast link: everything (theta = 1 costs < 1 ms more)
            Assert.True(bytes[1] < bytes[0] && bytes[2] < bytes[1], $"{method.Name}: {string.Join(", ", bytes)} bytes");
            Assert.True(bytes[2] * 8 / 1e5 < 0.5, $"{method.Name}: {bytes[2]} bytes take {bytes[2] * 8 / 1e5:F2} s at 100 kbit/s");
        }
        Assert.False(CompressionMethod.Parse("kimad+").SizesItself);
    }

    [Fact]
    public void KimadPlusBeatsTheUniformRatioOnHeterogeneousLayers()
    {
        // Two layers: one with a few huge entries (TopK loses little), one dense. Same budget for both methods.
        var r = new Random(5);
        float[] spiky = Enumerable.Range(0, 5000).Select(i => i % 100 == 0 ? 10f : (float)(r.NextDouble() * 0.01)).ToArray();
        float[] dense = Enumerable.Range(0, 5000).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
        float[][] v = [spiky, dense];
        long budget = 30_000;
        var plus = new KimadPlusMethod(new LevelSet("topk"), 1000).Choose(v, budget);
        var whole = new KimadMethod(new LevelSet("topk")).Choose(v, budget);
        Assert.True(ModelCodec.Bytes([5000, 5000], plus) <= budget);
        Assert.True(ModelCodec.Bytes([5000, 5000], whole) <= budget);
        double Err(ICompressor[] levels) => v.Select((x, l) => { var back = new float[x.Length]; WireCodec.Apply(levels[l], x, back, new Random(0)); return x.Zip(back, (a, b) => (double)(a - b) * (a - b)).Sum(); }).Sum();
        Assert.True(Err(plus) < 0.8 * Err(whole), $"kimad+ error {Err(plus):G4} vs kimad {Err(whole):G4}");
        Assert.True(Compressors.LevelRatio(plus[0], 5000) < Compressors.LevelRatio(plus[1], 5000), "the spiky layer should be compressed harder");
    }

    [Fact]
    public void SixtyLayersSixteenLevelsSolveQuickly()
    {
        // Not a timing assertion (see bench in docs/kimad.md); only that a realistic instance solves and is feasible.
        var r = new Random(3);
        var layers = Enumerable.Range(0, 60).Select(l =>
        {
            int n = r.Next(1000, 200_000);
            return new KnapsackLayer($"l{l}", CompressionLevels.Default.Select(ratio => new KnapsackOption(CompressionLevels.Bytes(ratio, n), r.NextDouble() * (1 - ratio))).ToArray());
        }).ToArray();
        var p = new KnapsackProblem(1_000_000, 1000, layers);
        var sw = Stopwatch.StartNew();
        var s = new MultipleChoiceKnapsack().Solve(p);
        Assert.True(s.Feasible);
        Assert.True(s.TotalBytes <= p.BudgetBytes);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void ProblemJsonHasTheDocumentedShape()
    {
        var p = JsonSerializer.Deserialize<KnapsackProblem>("""{"budget_bytes": 100, "discretization": 10, "layers": [{"name": "a", "options": [{"bytes": 80, "error": 0}, {"bytes": 20, "error": 3}]}, {"name": "b", "options": [{"bytes": 50, "error": 0}, {"bytes": 10, "error": 1}]}]}""")!;
        var s = new MultipleChoiceKnapsack().Solve(p);
        Assert.Equal([0, 1], s.Choices);
        string json = JsonSerializer.Serialize(s);
        Assert.Contains("\"choices\":[0,1]", json);
        Assert.Contains("\"total_bytes\":90", json);
        Assert.Contains("\"total_error\":1", json);
    }
}
