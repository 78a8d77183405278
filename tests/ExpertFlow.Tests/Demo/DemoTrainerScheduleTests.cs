using ExpertFlow.Demo;

namespace ExpertFlow.Tests.Demo;

/// <summary>The demo trainer's learning-rate schedule: warm-up, cosine to a tenth, following the clock under a time limit.</summary>
public class DemoTrainerScheduleTests
{
    static readonly DemoTrainingOptions Steps = new() { Steps = 1000, WarmupSteps = 100, LearningRate = 1e-3 };

    [Fact]
    public void Warms_up_linearly_then_decays_by_steps_to_a_tenth()
    {
        Assert.Equal(0.5e-3, DemoTrainer.LearningRateAt(50, Steps, TimeSpan.Zero), 12);
        Assert.Equal(1e-3, DemoTrainer.LearningRateAt(100, Steps, TimeSpan.Zero), 12);
        Assert.Equal(0.55e-3, DemoTrainer.LearningRateAt(550, Steps, TimeSpan.Zero), 12); // half way: 0.1 + 0.9 * 0.5
        Assert.Equal(1e-4, DemoTrainer.LearningRateAt(1000, Steps, TimeSpan.Zero), 12);
    }

    [Fact]
    public void Under_a_time_limit_the_decay_follows_whichever_runs_out_first()
    {
        var timed = Steps with { TimeLimit = TimeSpan.FromMinutes(10) };
        // few steps done but half the time gone: the half-way rate
        Assert.Equal(0.55e-3, DemoTrainer.LearningRateAt(200, timed, TimeSpan.FromMinutes(5)), 12);
        // the time is up long before the steps: the final rate, never below it
        Assert.Equal(1e-4, DemoTrainer.LearningRateAt(300, timed, TimeSpan.FromMinutes(12)), 12);
        // steps ahead of the clock: the steps decide
        Assert.Equal(0.55e-3, DemoTrainer.LearningRateAt(550, timed, TimeSpan.FromMinutes(1)), 12);
    }
}
