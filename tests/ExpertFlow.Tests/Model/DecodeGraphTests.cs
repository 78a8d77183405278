using ExpertFlow.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace ExpertFlow.Tests.Model;

/// <summary>
/// The CUDA-graph decode step: its fixed-shape body (positions and ids read from device tensors, attention over the
/// whole cache with a mask) against the eager step on the CPU, and captured graphs against eager decoding on a GPU.
/// </summary>
public class DecodeGraphTests
{
    public static TheoryData<string> DecoderFamilies() => [.. Fixtures.Families.Where(f => f != "switch_transformers")];

    [Theory]
    [MemberData(nameof(DecoderFamilies))]
    public void The_fixed_shape_decode_body_matches_the_eager_step(string family) =>
        CompareWithEagerSteps(family, stackedExperts: true, (model, ids, positions) => model.DecodeFixedShape(ids, positions));

    /// <summary>
    /// The segmented step (offloaded experts: graphs between expert layers, experts eager) run eagerly on the CPU,
    /// segment by segment through the buffers, against the eager step with the same non-stacked provider.
    /// </summary>
    [Theory]
    [MemberData(nameof(DecoderFamilies))]
    public void The_segmented_decode_bodies_match_the_eager_step(string family) =>
        CompareWithEagerSteps(family, stackedExperts: false, (model, ids, positions) =>
        {
            var body = (DecodeGraphs.IStepBody)model;
            var buffers = body.AllocateBuffers((int)ids.shape[0]);
            try
            {
                for (int j = 0; j < body.ExpertBreaks; j++)
                {
                    Assert.Null(body.Segment(j, ids, positions, buffers));
                    body.Experts(j, buffers);
                }
                return body.Segment(body.ExpertBreaks, ids, positions, buffers)!;
            }
            finally
            {
                foreach (var b in buffers) b.Dispose();
            }
        });

    /// <summary>
    /// The look-ahead guesses (next MoE layer's router on the current layer's input) that the segmented bodies hand to
    /// the provider equal those of the eager step, and follow the seam's contract: one per MoE layer but the last, for
    /// the next MoE layer, after its routing, k ids per token in range.
    /// </summary>
    [Theory]
    [MemberData(nameof(DecoderFamilies))]
    public void The_segmented_bodies_guess_the_next_layer_as_the_eager_step_does(string family)
    {
        var eagerGuesses = new Anticipator();
        var segmentGuesses = new Anticipator();
        CompareWithEagerSteps(family, stackedExperts: false, (model, ids, positions) =>
        {
            var body = (DecodeGraphs.IStepBody)model;
            var buffers = body.AllocateBuffers((int)ids.shape[0]);
            try
            {
                for (int j = 0; j < body.ExpertBreaks; j++)
                {
                    body.Segment(j, ids, positions, buffers);
                    body.Experts(j, buffers);
                }
                return body.Segment(body.ExpertBreaks, ids, positions, buffers)!;
            }
            finally
            {
                foreach (var b in buffers) b.Dispose();
            }
        }, eagerProvider: eagerGuesses, testedProvider: segmentGuesses);
        var moeLayers = eagerGuesses.Catalog!.MoeLayers.ToList();
        var decodeGuesses = eagerGuesses.Calls.Skip(moeLayers.Count - 1).ToArray(); // after the prefill's
        Assert.Equal(8 * (moeLayers.Count - 1), decodeGuesses.Length);
        var segmentDecodeGuesses = segmentGuesses.Calls.Skip(moeLayers.Count - 1).ToArray();
        Assert.Equal(decodeGuesses.Length, segmentDecodeGuesses.Length);
        for (int i = 0; i < decodeGuesses.Length; i++)
        {
            var (routed, layer, perToken) = segmentDecodeGuesses[i];
            Assert.Equal(decodeGuesses[i].Layer, layer);
            Assert.Equal(decodeGuesses[i].PerToken, perToken);
            Assert.Equal(moeLayers[moeLayers.IndexOf(routed) + 1], layer);
            Assert.Equal(2 * Anticipator.K, perToken.Length); // two rows
            Assert.All(perToken, e => Assert.InRange(e, 0, eagerGuesses.Catalog.NumExperts - 1));
        }
    }

    /// <summary>A resident provider (no stacked path) that asks for look-ahead guesses and records them with the layer routed just before.</summary>
    sealed class Anticipator : IExpertProvider, IAnticipatingProvider
    {
        public const int K = 2;
        readonly ResidentExpertProvider inner = new(offerStacked: false);
        int lastRouted = -1;
        public List<(int Routed, int Layer, long[] PerToken)> Calls { get; } = [];
        public int AnticipatedExperts => K;
        public void Anticipate(int layer, long[] perToken, int k)
        {
            Assert.Equal(K, k);
            Calls.Add((lastRouted, layer, perToken));
        }
        public ExpertCatalog? Catalog { get; private set; }
        public void Attach(ExpertCatalog catalog, Device device) { Catalog = catalog; inner.Attach(catalog, device); }
        public void OnRouted(int layer, IReadOnlyList<int> experts) { lastRouted = layer; inner.OnRouted(layer, experts); }
        public ExpertWeights Get(int layer, int expert) => inner.Get(layer, expert);
        public void OnLayerDone(int layer) => inner.OnLayerDone(layer);
        public void Dispose() => inner.Dispose();
    }

    /// <summary>
    /// Two prompts of different lengths (per-row positions and masks) prefilled in two copies of a model, then 8 greedy
    /// decode steps: <paramref name="body"/> (ids, positions read from device tensors) against the eager step, to 1e-5.
    /// </summary>
    static void CompareWithEagerSteps(string family, bool stackedExperts, Func<MoeCausalLM, Tensor, Tensor, Tensor> body,
        IExpertProvider? eagerProvider = null, IExpertProvider? testedProvider = null)
    {
        Fixtures.Cpu();
        Assert.SkipUnless(Fixtures.Exists(family), $"fixture {family} not present");
        var cases = Fixtures.Cases(family);
        int[][] prompts = [cases[0].InputIds, cases[1].InputIds];
        ModelLoadOptions Options(IExpertProvider? provider) => new() { Experts = provider ?? new ResidentExpertProvider(offerStacked: stackedExperts) };
        using var eager = MoeCausalLM.Load(Fixtures.Folder(family), options: Options(eagerProvider));
        using var tested = MoeCausalLM.Load(Fixtures.Folder(family), options: Options(testedProvider));
        const int capacity = 24;
        eager.ResetCache(2, capacity);
        tested.ResetCache(2, capacity);
        int[] next;
        using (var a = eager.Step(prompts)) next = TokenSampler.Pick(a, new SamplingOptions(), null);
        using (tested.Step(prompts)) { }
        for (int s = 0; s < 8; s++)
        {
            using var scope = NewDisposeScope();
            var expected = eager.Step([[next[0]], [next[1]]]);
            var ids = tensor(next.Select(t => (long)t).ToArray(), ScalarType.Int64);
            var positions = tensor(tested.CacheLengths.Select(l => (long)l).ToArray(), ScalarType.Int64);
            var actual = body(tested, ids, positions);
            for (int r = 0; r < 2; r++) tested.CacheLengths[r]++;
            for (int r = 0; r < 2; r++)
            {
                double d = Fixtures.MaxAbsDiff(Fixtures.Row(expected[r]), Fixtures.Row(actual[r]));
                Assert.True(d <= 1e-5, $"{family}: step {s}, row {r} differs by {d:g3}");
            }
            next = TokenSampler.Pick(expected, new SamplingOptions(), null);
        }
    }

    [Fact]
    public void Graphs_are_not_used_on_the_cpu()
    {
        Fixtures.Cpu();
        Assert.SkipUnless(Fixtures.Exists("mixtral"), "fixture mixtral not present");
        using var model = MoeCausalLM.Load(Fixtures.Folder("mixtral"), options: new ModelLoadOptions { CudaGraphs = true });
        Generation.Generate(model, [Fixtures.Cases("mixtral")[0].InputIds], new GenerationOptions { MaxNewTokens = 4, StopTokens = [] }, TestContext.Current.CancellationToken);
        Assert.Equal(0, model.GraphStats.Replays);
    }

    /// <summary>Dynamic NTK RoPE changes its frequencies with the step's length, so its steps never run as graphs.</summary>
    static bool LengthDependentRope(string family) => family == "qwen3_moe_dynamic";

    public static TheoryData<string, string> FamiliesAndDTypes()
    {
        var data = new TheoryData<string, string>();
        foreach (var f in Fixtures.Families.Where(f => f != "switch_transformers"))
        {
            data.Add(f, "fp32");
            data.Add(f, "bf16");
        }
        return data;
    }

    /// <summary>Skips without CUDA or the fixture; otherwise the GPU, the dtype and the family's first two prompts.</summary>
    static (Device Device, ScalarType DType, IReadOnlyList<ReferenceCase> Cases, int[][] Prompts) GpuCase(string family, string dtypeText)
    {
        Fixtures.Cpu();
        Assert.SkipUnless(torch.cuda.is_available(), "no CUDA device");
        Assert.SkipUnless(Fixtures.Exists(family), $"fixture {family} not present");
        var cases = Fixtures.Cases(family);
        return (new Device(DeviceType.CUDA, 0), MoeModels.ParseDType(dtypeText), cases, [cases[0].InputIds, cases[1].InputIds]);
    }

    /// <summary>
    /// Greedy outputs of a batch of two prompts of different lengths, one of which stops early (a finished row then
    /// feeds no token), with and without graphs: identical in fp32, and logits within float noise; in bf16 the graph
    /// attends over the whole cache with a mask, so only the first tokens are compared.
    /// </summary>
    [Theory]
    [Trait("Category", "GPU")]
    [MemberData(nameof(FamiliesAndDTypes))]
    public void Graph_replay_on_the_gpu_matches_eager_decoding(string family, string dtypeText)
    {
        var (device, dtype, cases, prompts) = GpuCase(family, dtypeText);
        int stop = cases[1].Greedy[5]; // the second prompt stops after six tokens (unless it appears earlier)
        GenerationResult Run(bool graphs, out DecodeGraphStats stats)
        {
            using var model = MoeCausalLM.Load(Fixtures.Folder(family), options: new ModelLoadOptions { Device = device, DType = dtype, CudaGraphs = graphs });
            Generation.Generate(model, prompts, new GenerationOptions { MaxNewTokens = 16, StopTokens = [] }); // same cache: captured once, replayed again
            var result = Generation.Generate(model, prompts, new GenerationOptions { MaxNewTokens = 16, StopTokens = [stop] });
            stats = model.GraphStats;
            return result;
        }
        var eager = Run(false, out _);
        var replayed = Run(true, out var stats);
        Assert.Null(stats.Off);
        if (LengthDependentRope(family)) Assert.Equal(0, stats.Captures); // frequencies follow the step's length: eager steps
        else
        {
            Assert.Equal(1, stats.Captures);
            Assert.True(stats.Replays > 15, $"only {stats.Replays} replays");
        }
        if (dtype == ScalarType.Float32)
            for (int r = 0; r < 2; r++) Assert.Equal(eager.OutputIds[r], replayed.OutputIds[r]);
        else
            for (int r = 0; r < 2; r++) Assert.Equal(eager.OutputIds[r].Take(4), replayed.OutputIds[r].Take(4));
    }

    /// <summary>
    /// Segmented graphs (experts through the provider, graphs in between) against eager decoding on a GPU, with the
    /// provider path of resident experts and with the offloading engine (on-demand, two slots, with and without look-ahead
    /// guesses captured in the graphs): greedy ids identical in
    /// fp32, the first tokens in bf16 (the graph attends over the whole cache with a mask).
    /// </summary>
    [Theory]
    [Trait("Category", "GPU")]
    [MemberData(nameof(FamiliesAndDTypes))]
    public void Segmented_graphs_on_the_gpu_match_eager_decoding(string family, string dtypeText)
    {
        var (device, dtype, _, prompts) = GpuCase(family, dtypeText);
        foreach (string? policy in new[] { null, "on-demand", "on-demand+lookahead:2" })
        {
            bool offload = policy != null;
            GenerationResult Run(bool graphs, out DecodeGraphStats stats)
            {
                var load = new ModelLoadOptions { Device = device, DType = dtype, CudaGraphs = graphs };
                using var model = offload
                    ? ExpertFlow.Offloading.OffloadedModel.Load(Fixtures.Folder(family), load,
                        new ExpertFlow.Offloading.OffloadOptions(ExpertFlow.Offloading.Policies.PolicySpec.Parse(policy!), ExpertFlow.Offloading.MemoryBudget.ExpertSlots(2)),
                        new Workload(2, prompts.Max(p => p.Length), 64)).Model
                    : MoeModels.Load(Fixtures.Folder(family), load with { Experts = new ResidentExpertProvider(offerStacked: false) });
                var options = new GenerationOptions { MaxNewTokens = 12, StopTokens = [] };
                Generation.Generate(model, prompts, options); // captured on this cache, replayed in the next run
                var result = Generation.Generate(model, prompts, options);
                stats = model.GraphStats;
                return result;
            }
            var eager = Run(false, out _);
            var replayed = Run(true, out var stats);
            Assert.Null(stats.Off);
            if (LengthDependentRope(family)) Assert.Equal(0, stats.Captures);
            else
            {
                Assert.Equal(1, stats.Captures);
                Assert.True(stats.Replays > 15, $"only {stats.Replays} replays");
            }
            for (int r = 0; r < 2; r++)
                if (dtype == ScalarType.Float32) Assert.Equal(eager.OutputIds[r], replayed.OutputIds[r]);
                else Assert.Equal(eager.OutputIds[r].Take(4), replayed.OutputIds[r].Take(4));
        }
    }
}
