using ExpertFlow.Model;
using TorchSharp;

namespace ExpertFlow.Tests.Model;

/// <summary>The expert-provider seam and the routing observer: call order, contents, and that they agree.</summary>
public class SeamTests
{
    /// <summary>Wraps the resident provider (stacked path off) and records every call.</summary>
    sealed class RecordingProvider : IExpertProvider
    {
        readonly ResidentExpertProvider inner = new(offerStacked: false);
        public readonly List<string> Calls = [];
        public ExpertCatalog? Catalog;
        public void Attach(ExpertCatalog catalog, torch.Device device) { Catalog = catalog; inner.Attach(catalog, device); }
        public void OnRouted(int layer, IReadOnlyList<int> experts) => Calls.Add($"routed {layer} {string.Join(",", experts)}");
        public ExpertWeights Get(int layer, int expert) { Calls.Add($"get {layer} {expert}"); return inner.Get(layer, expert); }
        public void OnLayerDone(int layer) => Calls.Add($"done {layer}");
        public void Dispose() => inner.Dispose();
    }

    sealed class Recorder : IRoutingObserver
    {
        public readonly List<StepInfo> Steps = [];
        public readonly List<RoutingDecision> Decisions = [];
        public void OnStep(StepInfo step) => Steps.Add(step);
        public void OnRouting(RoutingDecision decision) => Decisions.Add(decision);
    }

    [Theory]
    [InlineData("qwen2_moe")]
    [InlineData("deepseek")]
    [InlineData("switch_transformers")]
    public void Provider_sees_routed_then_get_in_order_then_done_and_agrees_with_the_observer(string family)
    {
        Fixtures.Cpu();
        var provider = new RecordingProvider();
        using var model = MoeModels.Load(Fixtures.Folder(family), new ModelLoadOptions { Experts = provider });
        var recorder = new Recorder();
        model.Observers.Add(recorder);
        var cases = Fixtures.Cases(family);
        Generation.Generate(model, [cases[0].InputIds, cases[1].InputIds], new GenerationOptions { MaxNewTokens = 3, StopTokens = [] }, TestContext.Current.CancellationToken);

        var catalog = provider.Catalog!;
        Assert.Equal(model.Config.MoeLayerCount, catalog.MoeLayers.Count);
        // parse the call log into (layer, routed experts, got experts) per layer visit
        var visits = new List<(int Layer, int[] Routed, List<int> Got)>();
        foreach (var call in provider.Calls)
        {
            var parts = call.Split(' ');
            int layer = int.Parse(parts[1]);
            switch (parts[0])
            {
                case "routed":
                    Assert.True(visits.Count == 0 || visits[^1].Got.Count == visits[^1].Routed.Length, "a layer started before the previous one finished");
                    visits.Add((layer, parts[2].Split(',').Select(int.Parse).ToArray(), []));
                    break;
                case "get":
                    Assert.Equal(visits[^1].Layer, layer);
                    visits[^1].Got.Add(int.Parse(parts[2]));
                    break;
                case "done":
                    Assert.Equal(visits[^1].Layer, layer);
                    Assert.Equal(visits[^1].Routed, visits[^1].Got);
                    break;
            }
        }
        foreach (var v in visits)
        {
            Assert.Equal(v.Routed.OrderBy(e => e).Distinct(), v.Routed); // ascending, distinct
            Assert.Contains(v.Layer, catalog.MoeLayers);
        }
        // the observer saw one decision per MoE layer per step, and its experts are exactly what the provider was asked for
        Assert.Equal(visits.Count, recorder.Decisions.Count);
        for (int i = 0; i < visits.Count; i++)
        {
            var d = recorder.Decisions[i];
            Assert.Equal(visits[i].Layer, d.Layer);
            Assert.Equal(visits[i].Routed, d.Experts.SelectMany(e => e).Distinct().OrderBy(e => e));
            Assert.All(d.Experts, e => Assert.Equal(model.Config.TopK, e.Length));
        }
    }

    [Fact]
    public void A_prompt_step_of_one_batch_is_a_prefill_while_the_other_batch_waits()
    {
        Fixtures.Cpu();
        using var model = MoeModels.Load(Fixtures.Folder("mixtral"));
        var recorder = new Recorder();
        model.Observers.Add(recorder);
        var prompt = Fixtures.Cases("mixtral")[0].InputIds;
        model.ResetCache(2, 32);
        using (model.Step([prompt, []])) { }          // batch A's prompt
        using (model.Step([[], prompt])) { }          // batch B's prompt: A's row holds positions already
        using (model.Step([[prompt[0]], []])) { }     // a decode step of A
        Assert.Equal([true, true, false], recorder.Steps.Select(s => s.IsPrefill));
        Assert.False(StepInfo.IsPromptStep([0, 5], [[1, 2], [3]]));
        Assert.True(StepInfo.IsPromptStep([7, 0], [[], [3, 4]]));
    }

    [Fact]
    public void Observer_gets_step_tokens_first_and_decisions_with_positions_and_weights()
    {
        Fixtures.Cpu();
        using var model = MoeModels.Load(Fixtures.Folder("mixtral"));
        var recorder = new Recorder();
        model.Observers.Add(recorder);
        var prompt = Fixtures.Cases("mixtral")[0].InputIds;
        Generation.Generate(model, [prompt], new GenerationOptions { MaxNewTokens = 2, StopTokens = [] }, TestContext.Current.CancellationToken);
        Assert.Equal(2, recorder.Steps.Count); // prefill + one decode step
        Assert.Equal(prompt, recorder.Steps[0].TokenIds[0]);
        Assert.True(recorder.Steps[0].IsPrefill);
        var prefill = recorder.Decisions.Where(d => d.Step == recorder.Steps[0].Step).ToList();
        Assert.Equal(model.Config.NumLayers, prefill.Count);
        Assert.Equal(Enumerable.Range(0, prompt.Length), prefill[0].Positions);
        Assert.Equal(prompt, prefill[0].TokenIds);
        // Mixtral renormalises the top-k weights: each token's weights sum to one, in descending order
        Assert.All(prefill.SelectMany(d => d.Weights), w =>
        {
            Assert.Equal(1.0, w.Sum(), 5);
            Assert.True(w[0] >= w[1]);
        });
        var decode = recorder.Decisions.Where(d => d.Step == recorder.Steps[1].Step).ToList();
        Assert.All(decode, d => Assert.Equal([prompt.Length], d.Positions));
    }

    [Fact]
    public void Catalog_names_every_experts_checkpoint_tensors()
    {
        Fixtures.Cpu();
        using var model = MoeModels.Load(Fixtures.Folder("qwen2_moe"));
        var id = model.Experts.Identity(2, 5);
        Assert.Equal(["model.layers.2.mlp.experts.5.gate_proj.weight", "model.layers.2.mlp.experts.5.up_proj.weight"], id.InputParts.Select(p => p.Name));
        Assert.Equal("model.layers.2.mlp.experts.5.down_proj.weight", id.Output.Name);
        Assert.Equal(Toolkit.Runtime.Safetensors.SafetensorsDType.F32, id.Output.Stored);
        Assert.Equal([32L, 32L], id.InputShape); // 2 x moe_intermediate_size 16, hidden 32
        Assert.Equal([0, 2], model.Experts.MoeLayers); // layer 1 is in mlp_only_layers
        Assert.NotNull(model.Experts.Checkpoint);
        var w = model.Experts.Load(2, 5, torch.CPU);
        using (w.Input) using (w.Output) Assert.Equal([32L, 32L], w.Input.shape);
    }
}

public class CacheTests
{
    [Theory]
    [InlineData("qwen3_moe")]
    [InlineData("olmoe")]
    public void Sequences_moved_between_caches_continue_exactly(string family)
    {
        Fixtures.Cpu();
        var cases = Fixtures.Cases(family);
        using var model = MoeModels.Load(Fixtures.Folder(family));
        // two batches of one sequence each, prefilled separately
        var caches = new KvCache[2];
        var next = new int[2];
        for (int i = 0; i < 2; i++)
        {
            model.Cache = null;
            model.ResetCache(1, 40);
            using var logits = model.Step([cases[i].InputIds]);
            next[i] = (int)logits.argmax(-1).item<long>();
            caches[i] = model.Cache!;
        }
        // merge them into one batch in swapped order, then decode greedily together
        using var merged = KvCache.Gather([(caches[1], 0), (caches[0], 0)]);
        foreach (var c in caches) c.Dispose();
        model.Cache = merged;
        Assert.Equal([cases[1].InputIds.Length, cases[0].InputIds.Length], merged.Lengths);
        var outputs = new[] { new List<int> { next[1] }, new List<int> { next[0] } };
        for (int s = 0; s < 7; s++)
        {
            using var logits = model.Step([[outputs[0][^1]], [outputs[1][^1]]]);
            var ids = TokenSampler.Pick(logits, new SamplingOptions(), null);
            outputs[0].Add(ids[0]);
            outputs[1].Add(ids[1]);
        }
        model.Cache = null; // merged is disposed by its using
        Assert.Equal(cases[1].Greedy[..8], outputs[0]);
        Assert.Equal(cases[0].Greedy[..8], outputs[1]);
    }
}

public class LifetimeTests
{
    [Fact]
    public void A_model_and_its_cache_outlive_the_callers_dispose_scope()
    {
        Fixtures.Cpu();
        var c = Fixtures.Cases("switch_transformers")[0];
        IMoeModel model;
        using (TorchSharp.torch.NewDisposeScope())
        {
            model = MoeModels.Load(Fixtures.Folder("switch_transformers"));
            ((SwitchModel)model).Encode([c.InputIds]);
            model.ResetCache(1, 32);
        }
        using (model)
        {
            var result = Generation.Generate(model, [c.InputIds], new GenerationOptions { MaxNewTokens = 16, StopTokens = [] }, TestContext.Current.CancellationToken);
            Assert.Equal(c.Greedy, result.OutputIds[0]);
        }
    }
}
