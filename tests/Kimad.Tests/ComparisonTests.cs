using Kimad.Experiments;
using Kimad.Training;

namespace Kimad.Tests;

public class ComparisonTests
{
    static RoundMetrics R(long round, double wall, double? acc) =>
        new() { Round = round, WallSeconds = wall, EvalAccuracy = acc, EvalLoss = acc is null ? null : 1 - acc, BytesUp = 1_000_000 * (round + 1), RoundMilliseconds = 10 };

    [Fact]
    public void TargetsTableGivesTheFirstEvaluationAtOrAboveEachTarget()
    {
        IReadOnlyList<RoundMetrics> a = [R(0, 0.5, 0.5), R(1, 1.0, null), R(2, 1.5, 0.72), R(3, 2.0, 0.69), R(4, 2.5, 0.81)];
        IReadOnlyList<RoundMetrics> b = [R(0, 1.0, 0.6), R(1, 2.0, 0.7)];
        var lines = Comparison.TargetsTable([("a", a), ("b", b)], [0.7, 0.8, 0.9]).ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("| method | rounds | wall s | best acc | final acc | MB up | MB down | mean round ms | s to 0.7 | s to 0.8 | s to 0.9 |", lines[0]);
        var cellsA = lines[2].Split('|', StringSplitOptions.TrimEntries)[1..^1];
        Assert.Equal(["a", "5", "2.5", "81.0 %", "81.0 %", "5", "0", "10", "1.5", "2.5", "-"], cellsA);
        var cellsB = lines[3].Split('|', StringSplitOptions.TrimEntries)[1..^1];
        Assert.Equal(["2", "70.0 %", "2", "-", "-"], [cellsB[1], cellsB[3], cellsB[8], cellsB[9], cellsB[10]]);
    }
}

public class CompareProtocolTests
{
    static RunOutcome O(string method, int seed, double? t0, double? t1, double best) =>
        new("in-phase", method, seed, [t0, t1], best, 100, 10, 20, 5, 1);

    [Fact]
    public void MedianIsTheMiddleOfTheSortedValues()
    {
        var random = new Random(3);
        for (int trial = 0; trial < 200; trial++)
        {
            var values = Enumerable.Range(0, random.Next(1, 9)).Select(_ => random.NextDouble()).ToList();
            // Reference: the value with as many others below as above (odd), the mean of the two such values (even).
            var below = values.Where(v => values.Count(w => w < v) == (values.Count - 1) / 2).Single();
            double expected = values.Count % 2 == 1 ? below : (below + values.Single(v => values.Count(w => w < v) == values.Count / 2)) / 2;
            Assert.Equal(expected, CompareProtocol.Median(values), 12);
        }
    }

    [Fact]
    public void UnreachedTargetsCountAsSlowestAndTheBestFixedRatioIsFound()
    {
        var outcomes = new[]
        {
            O("kimad+", 0, 4, 9, 0.8), O("kimad+", 1, 6, null, 0.7), O("kimad+", 2, 5, 12, 0.8),
            O("ef21-fixed:0.01", 0, 8, null, 0.6), O("ef21-fixed:0.01", 1, 7, null, 0.6), O("ef21-fixed:0.01", 2, 9, 20, 0.7),
            O("ef21-fixed:0.1", 0, 6, 10, 0.8), O("ef21-fixed:0.1", 1, null, null, 0.5), O("ef21-fixed:0.1", 2, 10, 11, 0.8),
        };
        var s = CompareProtocol.Summarise(outcomes, [0.6, 0.7]);
        var plus = s.Single(m => m.Method == "kimad+");
        Assert.Equal([5.0, 12.0], plus.MedianSecondsToTarget.Select(v => v!.Value));   // {4,5,6}; {9,12,inf}
        Assert.Equal([3, 2], plus.Reached);
        Assert.Equal(4, plus.MinSecondsToTarget[0]);
        Assert.Equal(6, plus.MaxSecondsToTarget[0]);
        Assert.Null(plus.MaxSecondsToTarget[1]);                                              // one seed never got there
        Assert.Null(s.Single(m => m.Method == "ef21-fixed:0.01").MedianSecondsToTarget[1]);  // {20,inf,inf}
        Assert.Equal(10, s.Single(m => m.Method == "ef21-fixed:0.1").MedianSecondsToTarget[0]); // {6,10,inf}
        Assert.Equal("ef21-fixed:0.01", CompareProtocol.BestFixed(s, 0)!.Method);             // 8 < 10
        Assert.Equal("ef21-fixed:0.1", CompareProtocol.BestFixed(s, 1)!.Method);              // 11; 0.01 has none
        Assert.Equal(0.8, plus.MedianBestAccuracy);
    }

    [Fact]
    public void BuiltInFamiliesNameShippedTraces()
    {
        foreach (var name in TraceFamily.BuiltIn)
            Assert.All(TraceFamily.Named(name).Traces, t => Assert.True(File.Exists(t), t));
        Assert.Throws<ArgumentException>(() => TraceFamily.Named("nope"));
    }
}

[Collection("processes")]
public class CompareProtocolRunTests
{
    [Fact]
    public async Task EveryRunKeepsItsMetricsAndASecondCallResumes()
    {
        var ct = TestContext.Current.CancellationToken;
        string dir = Path.Combine(Path.GetTempPath(), $"kimad-compare-{Guid.NewGuid():N}");
        try
        {
            var options = new CompareOptions
            {
                Launch = new LaunchOptions { Workers = 2, Task = "logreg", OutputDirectory = dir, Rounds = 30, EvalEvery = 5, Shaping = ShapingMode.Throttle, TimeBudgetMs = 50, RunTimeout = TimeSpan.FromSeconds(90) },
                Methods = ["kimad+", "ef21-fixed:0.1"], Seeds = [0, 1], Families = [TraceFamily.Named("constant-fast")], Targets = [0.6, 0.8], OutputDirectory = dir,
            };
            var lines = new List<string>();
            var summaries = await CompareProtocol.RunAsync(options, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, new SyncProgress(lines), ct);
            Assert.Equal(2, summaries.Count);
            Assert.All(summaries, s => Assert.Equal(2, s.Runs));
            var losses = new Dictionary<(int, string), double[]>();
            foreach (int seed in options.Seeds)
                foreach (var method in options.Methods)
                {
                    var rounds = MetricsFiles.Read(CompareProtocol.RunDirectory(dir, "constant-fast", seed, method));
                    Assert.Equal(30, rounds.Count);
                    losses[(seed, method)] = rounds.Select(r => r.TrainLoss).ToArray();
                }
            Assert.NotEqual(losses[(0, "kimad+")], losses[(1, "kimad+")]);   // the seed reaches the runs
            Assert.Contains("kimad+", File.ReadAllText(Path.Combine(dir, "summary.md")));
            Assert.True(new FileInfo(Path.Combine(dir, "time_to_target.png")).Length > 1000);
            Assert.True(File.Exists(Path.Combine(dir, "summary.json")));

            // A second call keeps the finished runs and only summarises.
            var stamp = File.GetLastWriteTimeUtc(Path.Combine(CompareProtocol.RunDirectory(dir, "constant-fast", 0, "kimad+"), "metrics.json"));
            lines.Clear();
            await CompareProtocol.RunAsync(options, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, new SyncProgress(lines), ct);
            Assert.Equal(4, lines.Count(l => l.Contains("kept from an earlier run")));
            Assert.Equal(stamp, File.GetLastWriteTimeUtc(Path.Combine(CompareProtocol.RunDirectory(dir, "constant-fast", 0, "kimad+"), "metrics.json")));
        }
        finally { try { Directory.Delete(dir, true); } catch (IOException) { } }
    }

    sealed class SyncProgress(List<string> lines) : IProgress<string>
    {
        public void Report(string value) { lock (lines) lines.Add(value); }
    }
}
