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
