using ExpertFlow.Scheduling;

namespace ExpertFlow.Tests.Scheduling;

public class TokenSchedulerTests
{
    // Sequences drawn from a few "topics", each topic favouring its own experts, with noise: the structure
    // real routing paths show, without being trivially separable.
    static List<ExpertSet> ClusteredPaths(int n, int layers, int experts, int topK, int topics, int seed)
    {
        var random = new Random(seed);
        var topicExperts = Enumerable.Range(0, topics).Select(_ => Enumerable.Range(0, layers)
            .Select(_ => Enumerable.Range(0, experts).OrderBy(_ => random.Next()).Take(topK + 1).ToArray()).ToArray()).ToArray();
        var result = new List<ExpertSet>();
        for (int i = 0; i < n; i++)
        {
            var set = new ExpertSet(layers, experts);
            int topic = random.Next(topics);
            for (int l = 0; l < layers; l++)
                for (int j = 0; j < topK; j++)
                    set.Add(l, random.NextDouble() < 0.8 ? topicExperts[topic][l][random.Next(topK + 1)] : random.Next(experts));
            result.Add(set);
        }
        return result;
    }

    [Fact]
    public void Split_is_balanced_and_covers_every_sequence_once()
    {
        var paths = ClusteredPaths(32, 4, 8, 2, 3, seed: 1);
        var split = TokenScheduler.Split(paths);
        Assert.Equal(16, split.First.Length);
        Assert.Equal(16, split.Second.Length);
        Assert.Equal(Enumerable.Range(0, 32), split.First.Concat(split.Second).Order());
        Assert.Equal(TokenScheduler.Cost(paths, split.First, split.Second), split.Cost);
    }

    [Fact]
    public void Near_optimal_on_small_cases_against_brute_force()
    {
        double heuristic = 0, optimal = 0, naive = 0;
        for (int seed = 0; seed < 40; seed++)
        {
            var paths = ClusteredPaths(12, 4, 8, 2, 2 + seed % 3, seed);
            var best = TokenScheduler.BruteForce(paths);
            var found = TokenScheduler.Split(paths);
            Assert.True(found.Cost >= best.Cost, "the heuristic cannot beat the optimum");
            Assert.True(found.Cost <= best.Cost * 1.15 + 1, $"seed {seed}: heuristic cost {found.Cost}, optimum {best.Cost}");
            heuristic += found.Cost;
            optimal += best.Cost;
            naive += TokenScheduler.Cost(paths, Enumerable.Range(0, 6).ToArray(), Enumerable.Range(6, 6).ToArray());
        }
        Assert.True(heuristic <= optimal * 1.05, $"mean gap to optimum too large: {heuristic / optimal:F3}");
        Assert.True(heuristic < naive, "scheduling must activate fewer experts than the arrival order");
    }

    [Fact]
    public void Separates_two_disjoint_groups_exactly()
    {
        var paths = new List<ExpertSet>();
        for (int i = 0; i < 8; i++)
        {
            var s = new ExpertSet(2, 8);
            int group = i % 2; // interleaved so arrival order mixes them
            s.Add(0, group * 4); s.Add(1, group * 4 + 1);
            paths.Add(s);
        }
        var split = TokenScheduler.Split(paths);
        Assert.Equal(4, split.Cost);
        Assert.All(split.First, i => Assert.Equal(split.First[0] % 2, i % 2));
    }

    [Fact]
    public void Odd_count_is_a_clear_error() =>
        Assert.Throws<ArgumentException>(() => TokenScheduler.Split([new ExpertSet(1, 4), new ExpertSet(1, 4), new ExpertSet(1, 4)]));

    [Fact]
    public void Fast_enough_for_two_batches_of_16()
    {
        var paths = ClusteredPaths(32, 32, 64, 4, 4, seed: 3);
        TokenScheduler.Split(paths);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 5; i++) TokenScheduler.Split(paths);
        // Generous bound for a loaded 2-core CI machine; the paper's budget is < 10 ms.
        Assert.True(clock.Elapsed.TotalMilliseconds / 5 < 200, $"split took {clock.Elapsed.TotalMilliseconds / 5:F1} ms");
    }
}
