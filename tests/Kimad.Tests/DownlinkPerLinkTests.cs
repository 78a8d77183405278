using Kimad.Compression;
using Kimad.Tasks;
using Kimad.Training;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kimad.Tests;

/// <summary>The coordinator sizes each worker's downlink for that worker's link (in process, no transport).</summary>
public class DownlinkPerLinkTests
{
    const double Fast = 100e6, Slow = 0.1e6;   // bit/s

    /// <summary>Round 0 (full states), then round 1 with the given reports; returns the bytes of each worker's round-1 downlink.</summary>
    static long[] SecondDownlinkBytes(bool independentDirections, params PushReport[] reports)
    {
        using var task = new QuadraticTask(new TaskOptions());
        var options = new ServerOptions { Method = "kimad+", TimeBudgetMs = 20, ExpectedWorkers = reports.Length, Rounds = 10, EvalEvery = 0, IndependentDirections = independentDirections };
        var coordinator = new RoundCoordinator(task, options, NullLogger.Instance);
        for (int w = 0; w < reports.Length; w++) coordinator.Join(w, coordinator.ModelVersion);
        coordinator.Tick();
        var gradient = task.InitialParameters().Select(l => l.Select(_ => 1f).ToArray()).ToArray();
        for (int w = 0; w < reports.Length; w++)
        {
            Assert.True(coordinator.Pull(w, 0, -1).FullState);
            byte[] message = ModelCodec.Encode(gradient, gradient.Select(_ => 1.0).ToArray(), new Random(w));
            coordinator.Push(w, 0, coordinator.ModelVersion, message, reports[w]);
        }
        Assert.Equal(1, coordinator.CurrentRound);
        return Enumerable.Range(0, reports.Length).Select(w =>
        {
            var pull = coordinator.Pull(w, 1, 0);
            Assert.False(pull.FullState);
            return (long)pull.Data.Length;
        }).ToArray();
    }

    static PushReport Report(double downlinkBps, double? serverUplinkBps = null) => new(1.0, Fast, downlinkBps, [], 5, serverUplinkBps);

    [Fact]
    public void ASlowLinkGetsASmallDownlinkWithoutShrinkingTheOthers()
    {
        var bytes = SecondDownlinkBytes(false, Report(Fast), Report(Slow));
        Assert.True(bytes[1] * 5 < bytes[0], $"slow link got {bytes[1]} B, fast link {bytes[0]} B");
    }

    [Fact]
    public void ADropSeenOnAPushShrinksTheNextPullUnlessDirectionsAreIndependent()
    {
        // Both workers report a fast downlink; the server timed worker 1's push as slow.
        var shared = SecondDownlinkBytes(false, Report(Fast, Fast), Report(Fast, Slow));
        Assert.True(shared[1] * 5 < shared[0], $"shared bottleneck: slow push -> {shared[1]} B, fast -> {shared[0]} B");
        var independent = SecondDownlinkBytes(true, Report(Fast, Fast), Report(Fast, Slow));
        Assert.Equal(independent[0], independent[1]);
    }
}
