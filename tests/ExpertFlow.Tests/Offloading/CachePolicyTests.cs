using ExpertFlow.Model;
using ExpertFlow.Offloading;
using ExpertFlow.Offloading.Policies;
using Toolkit.Runtime;
using static TorchSharp.torch;

namespace ExpertFlow.Tests.Offloading;

/// <summary>Cache behaviour on hand-made routing sequences (CPU engine, real copies).</summary>
public class CachePolicyTests
{
    public CachePolicyTests() => LibTorch.EnsureLoaded();

    static ExpertLayout Layout(int layers = 2, int experts = 6) =>
        new(Enumerable.Range(0, layers).ToArray(), experts, [new ExpertPart("w", [4, 8])], ScalarType.Float32);

    static OffloadedExperts Create(ExpertLayout layout, int slots, string policy, IOffloadPolicy? instance = null) =>
        OffloadedExperts.Create(new RandomExpertSource(layout), CPU, DeviceFootprint.None,
            new OffloadOptions(PolicySpec.Parse(policy), MemoryBudget.Bytes(slots * layout.BytesPerExpert), HostTier.Arena), new OffloadServices { Policy = instance });

    /// <summary>One step: for each layer, route and use the experts, checking the bytes are the expert's.</summary>
    static void Step(OffloadedExperts o, params int[][] perLayer)
    {
        var e = o.Engine;
        var reference = new RandomExpertSource(e.Layout);
        var expected = new byte[e.Layout.BytesPerExpert];
        e.BeginStep();
        for (int l = 0; l < perLayer.Length; l++)
        {
            e.OnRouted(l, perLayer[l]);
            foreach (int x in perLayer[l])
            {
                var part = e.Get(l, x)[0];
                reference.Read(new ExpertKey(l, x), expected);
                Assert.Equal(expected, part.bytes.ToArray());
                e.Release(l, x);
            }
            e.OnLayerDone(l);
        }
        e.EndStep(1);
        e.CheckInvariants();
    }

    [Fact]
    public void Lru_evicts_the_least_recently_used_expert_of_the_same_layer()
    {
        var layout = Layout();
        using var o = Create(layout, 4, "lru"); // 2 slots per layer
        Step(o, [0], [0]);       // 2 misses
        Step(o, [1], [1]);       // 2 misses (layer quotas: 2 each)
        Step(o, [0], [0]);       // hits
        Step(o, [2], [2]);       // misses: evict 1 (LRU), keep 0
        Step(o, [0], [0]);       // hits
        Step(o, [1], [1]);       // misses: 1 was evicted
        var s = o.Stats;
        Assert.Equal([2L, 2L], s.Layers.Select(l => l.Hits));
        Assert.Equal([4L, 4L], s.Layers.Select(l => l.Misses));
        // The first step is the prefill (no StepInfo: step 0); the decode ratio leaves its two misses out.
        Assert.Equal(10, s.DecodeRequests);
        Assert.Equal(4, s.DecodeHits);
        Assert.Equal(8, s.DemandTransfers);
        Assert.Equal(0, s.PrefetchTransfers);
    }

    [Fact]
    public void On_demand_loads_every_request_and_keeps_nothing()
    {
        var layout = Layout();
        using var o = Create(layout, 3, "on-demand");
        for (int i = 0; i < 3; i++) Step(o, [0, 1, 2, 3], [4, 5]);
        Assert.Equal(0, o.Stats.Hits);
        Assert.Equal(18, o.Stats.DemandTransfers);
        Assert.Equal(18 * layout.BytesPerExpert, o.Stats.TransferBytes);
    }

    [Fact]
    public void All_resident_loads_once_and_always_hits()
    {
        var layout = Layout();
        using var o = Create(layout, layout.TotalExperts, "all-resident");
        long before = o.Stats.DemandTransfers;
        Assert.Equal(layout.TotalExperts, before);
        for (int i = 0; i < 3; i++) Step(o, [0, 5], [1, 2, 3]);
        Assert.Equal(1.0, o.Stats.HitRatio);
        Assert.Equal(before, o.Stats.DemandTransfers);
    }

    [Fact]
    public void Next_layer_preloads_the_frequent_experts_back_after_a_detour()
    {
        var layout = Layout(layers: 3);
        int[][] a = [[0, 1], [0, 1], [0, 1]], b = [[2, 3], [2, 3], [2, 3]];
        int[][][] steps = [a, a, a, b, a, a, b, a, a];
        using var next = Create(layout, 6, "next-layer"); // 2 slots per layer
        using var lru = Create(layout, 6, "lru");
        foreach (var s in steps) { Step(next, s); Step(lru, s); }
        Assert.True(next.Stats.PrefetchTransfers > 0);
        // LRU misses on every switch; next-layer reloads {0,1} ahead of the step after a detour.
        Assert.Equal(4 * 6, lru.Stats.Hits); // steps 2, 3, 6 and 9 hit, 2 experts x 3 layers each
        Assert.True(next.Stats.Hits > lru.Stats.Hits, $"next-layer {next.Stats.Hits} hits, lru {lru.Stats.Hits}");
    }

    [Fact]
    public void Predictive_policy_corrects_wrong_predictions_and_beats_lru()
    {
        var layout = Layout(layers: 2, experts: 6);
        // Routing alternates between two expert sets; a forecast that knows it keeps hitting, while per-layer
        // LRU with 3 slots per layer cycles through 4 experts and keeps missing. The forecast also names an
        // unrouted expert per layer: it is loaded into the spare slot and must be counted as wasted.
        int[][] a = [[0, 1], [2, 3]], b = [[4, 5], [0, 1]];
        var steps = Enumerable.Range(0, 8).Select(i => i % 2 == 0 ? a : b).ToArray();
        var forecast = new ListForecast(layout, steps.Select(s => s.Select(x => x.ToArray()).ToArray()).ToArray(), wrongExtra: 1);
        using var predictive = Create(layout, 6, "expertflow", new PredictivePolicy(forecast, threshold: 0.5f, lookahead: 2));
        using var lru = Create(layout, 6, "lru");
        foreach (var s in steps) { Step(predictive, s); Step(lru, s); }
        Assert.True(predictive.Stats.HitRatio > lru.Stats.HitRatio, $"predictive {predictive.Stats.HitRatio}, lru {lru.Stats.HitRatio}");
        Assert.True(predictive.Stats.PrefetchWasted > 0, "the wrong predictions should be counted as wasted");
    }

    [Fact]
    public void An_uncertain_expert_still_gets_its_slot_and_its_prefetch()
    {
        var layout = Layout(layers: 2, experts: 6);
        // Routing alternates between two pairs per layer; the forecast is sure of one expert of layer 0 and only 40 %
        // sure of the other. Demand counts expected experts (1.4 for layer 0), so layer 0 keeps two of the four slots
        // and the top two of its forecast are prefetched: after the first step every expert is already there.
        int[][] a = [[0, 1], [2, 3]], b = [[4, 5], [0, 1]];
        var steps = Enumerable.Range(0, 8).Select(i => i % 2 == 0 ? a : b).ToArray();
        var scores = steps.Select(s => s.Select((experts, layer) =>
        {
            var x = new float[layout.ExpertsPerLayer];
            x[experts[0]] = 1f;
            x[experts[1]] = layer == 0 ? 0.4f : 1f;
            return x;
        }).ToArray()).ToArray();
        var policy = new PredictivePolicy(new ScoreForecast(scores), threshold: 0.5f, lookahead: 2);
        using var o = Create(layout, 4, "expertflow", policy);
        foreach (var step in steps) Step(o, step);
        Assert.Equal(1.0, o.Stats.DecodeHitRatio, 3);
        Assert.Equal(0, policy.PredictedMisses + policy.UnpredictedMisses);
    }

    [Fact]
    public void Plec_with_a_perfect_forecast_retains_experts_when_a_step_needs_more_than_the_cache_holds()
    {
        // Batch-16-like pattern: 8 layers x 16 experts, every step needs 12 experts per layer (96 > the 64 slots). LRU
        // evicts what the next step needs; PLEC fed the true routing must keep experts needed soon rather than displace
        // them for prefetches needed no sooner. Before that rule it copied every expert of every step (5,760 copies
        // against LRU's 4,348, measured); now 3,377.
        var layout = Layout(layers: 8, experts: 16);
        var random = new Random(7);
        var steps = Enumerable.Range(0, 60).Select(_ => Enumerable.Range(0, 8)
            .Select(_ => Enumerable.Range(0, 16).OrderBy(_ => random.Next()).Take(12).Order().ToArray()).ToArray()).ToArray();
        long Copies(string name, int slots, out OffloadStats stats)
        {
            var plec = name == "expertflow" ? new PredictivePolicy(new ScriptForecast(layout, steps), lookahead: 2) : null;
            using var o = Create(layout, slots, name, plec);
            foreach (var step in steps) Step(o, step);
            stats = o.Stats;
            return stats.DemandTransfers + stats.PrefetchTransfers;
        }
        long lru = Copies("lru", 64, out _), nextLayer = Copies("next-layer", 64, out _), plec = Copies("expertflow", 64, out var s64);
        Assert.True(plec < 0.85 * lru, $"PLEC {plec} copies, LRU {lru}");
        Assert.True(plec <= nextLayer, $"PLEC {plec} copies, next-layer {nextLayer}");
        Assert.Equal(1.0, s64.DecodeHitRatio, 3);
        Assert.Equal(0, s64.PrefetchWasted);
        long lru32 = Copies("lru", 32, out _), plec32 = Copies("expertflow", 32, out var s32);
        Assert.True(plec32 <= lru32, $"PLEC {plec32} copies, LRU {lru32} (32 slots)");
        Assert.Equal(0, s32.PrefetchWasted);
    }

    [Fact]
    public void Plec_prefetches_the_waiting_batchs_first_layers_before_its_step_starts()
    {
        // Two batches alternate (a, b, a, ...) and need different experts in every layer. With the next step known
        // (ForecastUpcoming), routing layer 1 of a step already copies the next step's layer 0 (lookahead 2 runs past the
        // last layer), and layer 2 the next step's layer 1; without it those copies wait for the next step to start.
        var layout = Layout(layers: 3, experts: 6);
        int[][] a = [[0, 1], [2, 3], [4, 5]], b = [[2, 3], [4, 5], [0, 1]];
        var steps = Enumerable.Range(0, 6).Select(i => i % 2 == 0 ? a : b).ToArray();
        foreach (bool crossStep in new[] { true, false })
        {
            var policy = new PredictivePolicy(new ScriptForecast(layout, steps), threshold: 0.5f, lookahead: 2, crossStep: crossStep);
            using var o = Create(layout, 6, "expertflow", policy);
            var e = o.Engine;
            for (int s = 0; s < steps.Length; s++)
            {
                Step(o, steps[s]);
                if (s == 0 || s + 1 == steps.Length) continue; // the prefill step does not look past itself
                bool ready = Enumerable.Range(0, 2).All(l => steps[s + 1][l].All(x => e.IsCachedOrLoading(new ExpertKey(l, x))));
                Assert.Equal(crossStep, ready);
            }
            Assert.Equal(crossStep ? 4 * 4 : 0, policy.CrossStepPrefetches); // decode steps 1-4 each start 2 + 2 copies early
            Assert.Equal(1.0, o.Stats.DecodeHitRatio, 3);
        }
    }

    [Fact]
    public void Lookahead_copies_the_guessed_expert_before_its_layer_and_corrects_a_wrong_guess()
    {
        var layout = Layout(layers: 3, experts: 6);
        using var o = Create(layout, 4, "on-demand+lookahead");
        var policy = Assert.IsType<LookaheadPolicy>(o.Engine.Policy);
        Assert.Equal(1, policy.AnticipatedExperts);
        int[][] routing = [[0, 1], [2, 3], [4, 5]];
        // After layer 0 is routed the runtime guesses layer 1 = {2 (right), 5}: only the best guess is copied (count 1).
        // After layer 1 it guesses layer 2 = {0}: wrong, evicted first and counted as wasted.
        int[][] guesses = [[2, 5], [0]];
        for (int step = 0; step < 3; step++)
        {
            var e = o.Engine;
            e.BeginStep();
            for (int l = 0; l < 3; l++)
            {
                e.OnRouted(l, routing[l]);
                if (l < 2) e.Anticipate(l + 1, guesses[l]);
                foreach (int x in routing[l]) { e.Get(l, x); e.Release(l, x); }
                e.OnLayerDone(l);
                e.CheckInvariants();
            }
            e.EndStep(1);
        }
        Assert.Equal(3, o.Stats.Hits); // layer 1's expert 2, every step; on-demand alone never hits
        Assert.Equal(6, o.Stats.AnticipatedLayers);
        Assert.True(o.Stats.PrefetchTransfers >= 4, $"{o.Stats.PrefetchTransfers} look-ahead copies");
        Assert.True(o.Stats.PrefetchWasted >= 1, "the wrong guess should be counted as wasted");
    }

    [Fact]
    public void Lookahead_wraps_any_policy_by_name()
    {
        var p = Assert.IsType<LookaheadPolicy>(PolicyFactory.Create(PolicySpec.Parse("next-layer+lookahead:3")));
        Assert.Equal(3, p.Count);
        Assert.IsType<NextLayerPolicy>(p.Inner);
        Assert.Equal("next-layer+lookahead:3", p.Name);
        Assert.Equal("lru+lookahead", PolicyFactory.Create(PolicySpec.Parse("lru+lookahead")).Name);
        Assert.Equal(0, PolicyFactory.Create(PolicySpec.Parse("lru")).AnticipatedExperts);
        Assert.Contains("N >= 1", Assert.Throws<ArgumentException>(() => PolicySpec.Parse("lru+lookahead:0")).Message);
        Assert.Contains("unknown", Assert.Throws<ArgumentException>(() => PolicySpec.Parse("fifo+lookahead")).Message);
    }

    [Fact]
    public void Host_compute_splits_the_misses_where_each_finishes_first()
    {
        // Copy 0.32 ms, host 0.5 ms per expert (measured on the H200 machine at batch 1): of 4 misses, the second goes to
        // the host (0.5 <= 0.32 + 0.32), the others to the link; the layer waits ~0.96 ms instead of 1.28.
        Assert.Equal([false, true, false, false], HostComputePlanner.SplitMisses([1, 1, 1, 1], _ => 0.5e-3, 0.32e-3));
        // A host twice as fast as the link takes two of every three.
        Assert.Equal(2, HostComputePlanner.SplitMisses([1, 1, 1], _ => 0.16e-3, 0.32e-3).Count(h => h));
        // Fewest tokens first: the host takes the cheap single-token expert, the link the 16-token one.
        Assert.Equal([false, true], HostComputePlanner.SplitMisses([16, 1], n => n * 0.3e-3, 0.32e-3));
        // A slow host (a stale first estimate) gets nothing, unless probing.
        Assert.DoesNotContain(true, HostComputePlanner.SplitMisses([1, 1, 1, 1], _ => 5e-3, 0.32e-3));
        Assert.Equal([true, false, false, false], HostComputePlanner.SplitMisses([1, 1, 1, 1], _ => 5e-3, 0.32e-3, probe: true));
    }

    [Fact]
    public void Host_compute_needs_a_host_arena()
    {
        var layout = Layout();
        var e = Assert.Throws<ArgumentException>(() => OffloadedExperts.Create(new RandomExpertSource(layout), CPU, DeviceFootprint.None,
            new OffloadOptions(PolicySpec.Parse("lru+cpu"), MemoryBudget.Bytes(4 * layout.BytesPerExpert), HostTier.Disk)));
        Assert.Contains("arena host tier", e.Message);
        Assert.Equal(new PolicySpec("on-demand", 1, true), PolicySpec.Parse("on-demand+lookahead+cpu"));
        using var arena = OffloadedExperts.Create(new RandomExpertSource(layout), CPU, DeviceFootprint.None,
            new OffloadOptions(PolicySpec.Parse("lru+cpu"), MemoryBudget.Bytes(4 * layout.BytesPerExpert), HostTier.Arena));
        Assert.Equal("lru+cpu", arena.Stats.Policy);
        Assert.True(arena.Engine.HostCompute);
    }

    [Fact]
    public void Quotas_follow_predicted_demand()
    {
        Assert.Equal([1, 3, 6], PredictivePolicy.ProportionalQuotas([0, 2, 5], 10));
        Assert.Equal(10, PredictivePolicy.ProportionalQuotas([1, 1, 1], 10).Sum());
        Assert.Equal([4, 3, 3], LruPolicy.EvenQuotas(10, 3));
    }

    [Fact]
    public void Too_small_a_budget_names_the_minimum()
    {
        var layout = Layout();
        var footprint = new DeviceFootprint(1000, 200, 100);
        var e = Assert.Throws<ArgumentException>(() => MemoryPlan.Create(1500, footprint, layout));
        Assert.Contains("minimum is", e.Message);
        Assert.Contains((1300 + 2 * layout.BytesPerExpert).ToString(), e.Message);
        var all = Assert.Throws<ArgumentException>(() => MemoryPlan.Create(1300 + 5 * layout.BytesPerExpert, footprint, layout, layout.TotalExperts, "all-resident"));
        Assert.Contains("all-resident", all.Message);
        var plan = MemoryPlan.Create(1300 + 5 * layout.BytesPerExpert + 7, footprint, layout);
        Assert.Equal(5, plan.Slots);
        Assert.True(plan.PlannedBytes <= plan.BudgetBytes);
    }

    [Fact]
    public void Unknown_policy_lists_the_known_ones() =>
        Assert.Contains("lru", Assert.Throws<ArgumentException>(() => PolicySpec.Parse("fifo")).Message);

    [Theory]
    [InlineData("lru", "lru", 0, false)]
    [InlineData(" LRU+lookahead ", "lru", 1, false)]
    [InlineData("on-demand+lookahead:3+cpu", "on-demand", 3, true)]
    [InlineData("expertflow+cpu", "expertflow", 0, true)]
    public void Policy_text_parses_once_into_its_parts(string text, string basis, int lookahead, bool host)
    {
        var spec = PolicySpec.Parse(text);
        Assert.Equal(new PolicySpec(basis, lookahead, host), spec);
        Assert.Equal(spec, PolicySpec.Parse(spec.ToString())); // the text form reads back
    }

    [Fact]
    public void Expertflow_needs_a_forecast() =>
        Assert.Contains("forecast", Assert.Throws<ArgumentException>(() => PolicyFactory.Create(PolicySpec.Parse("expertflow"))).Message);

    [Fact]
    public void Budget_as_a_share_of_experts_gives_that_many_slots()
    {
        var layout = Layout(layers: 4, experts: 8);
        var footprint = new DeviceFootprint(1000, 200, 100);
        var plan = MemoryPlan.Create(MemoryBudget.Share(0.25).Resolve(footprint, layout), footprint, layout);
        Assert.Equal(8, plan.Slots);
        Assert.Equal(layout.TotalExperts, MemoryPlan.Create(MemoryBudget.Unlimited.Resolve(footprint, layout), footprint, layout).Slots);
        Assert.Throws<ArgumentException>(() => MemoryBudget.Share(0));
        Assert.Throws<ArgumentException>(() => MemoryBudget.Share(1.5));
    }
}

/// <summary>Forecast = the given routing, plus <c>wrongExtra</c> experts that will not be routed (to exercise correction).</summary>
sealed class ListForecast(ExpertLayout layout, int[][][] steps, int wrongExtra) : IRoutingForecast
{
    public float[][]? Forecast(StepInfo step)
    {
        if (step.Step >= steps.Length) return null;
        return steps[(int)step.Step].Select(experts =>
        {
            var s = new float[layout.ExpertsPerLayer];
            foreach (int e in experts) s[e] = 1;
            for (int e = 0, added = 0; e < s.Length && added < wrongExtra; e++)
                if (s[e] == 0) { s[e] = 0.6f; added++; }
            return s;
        }).ToArray();
    }
}

/// <summary>Forecast = the given routing per step, and the next step's as the upcoming one.</summary>
sealed class ScriptForecast(ExpertLayout layout, int[][][] steps) : IRoutingForecast
{
    public float[][]? Forecast(StepInfo step) => At(step.Step);
    public float[][]? ForecastUpcoming(StepInfo current) => At(current.Step + 1);

    float[][]? At(long step) => step < steps.Length
        ? steps[(int)step].Select(experts => { var s = new float[layout.ExpertsPerLayer]; foreach (int e in experts) s[e] = 1; return s; }).ToArray()
        : null;
}

/// <summary>Forecast = the given scores per step.</summary>
sealed class ScoreForecast(float[][][] steps) : IRoutingForecast
{
    public float[][]? Forecast(StepInfo step) => step.Step < steps.Length ? steps[(int)step.Step] : null;
}
