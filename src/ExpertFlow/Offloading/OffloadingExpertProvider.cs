using ExpertFlow.Model;
using ExpertFlow.Offloading.Policies;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using static TorchSharp.torch;

namespace ExpertFlow.Offloading;

/// <summary>
/// The offloading engine behind the model runtime's <see cref="IExpertProvider"/> seam. Experts live in the host tier
/// (pinned arena on CUDA, memory-mapped checkpoint on CPU by default) and are cached in device slots under the memory
/// budget. Built by <see cref="OffloadedModel"/>: the model attaches it while loading, then <see cref="Start"/> plans the
/// budget from the loaded model's footprint and fills the host tier, and it observes the model's routing (step
/// boundaries and token ids reach the policy). Without an observer a new step is detected when the first MoE layer is
/// routed again. A lease on an expert ends at the next <see cref="Get"/> or at the layer's end (the runtime computes one
/// expert at a time).
/// </summary>
public sealed class OffloadingExpertProvider : IExpertProvider, IRoutingObserver, IAnticipatingProvider, IHostComputeProvider
{
    readonly OffloadOptions options;
    readonly OffloadServices services;
    ExpertCatalog? catalog;
    Device device = CPU;
    OffloadedExperts? offloaded;
    MemoryPlan? plan;
    (IExpertSource Source, DeviceFootprint Footprint, IOffloadPolicy Policy)? pending;
    ExpertWeights[] slotWeights = [];
    DequantScratch? scratch; // quantized experts: the compute-dtype copy of the expert being computed
    int lastRoutedLayer = int.MaxValue;
    int plannedLayer = -1;
    int rowsInStep;

    /// <param name="options">Policy, budget, host tier.</param>
    /// <param name="services">Forecast, shared host tier, expert source, device measurement, logger.</param>
    public OffloadingExpertProvider(OffloadOptions options, OffloadServices? services = null)
    {
        this.options = options with { ImplicitRelease = true };
        this.services = services ?? new OffloadServices();
        if (this.services.Policy == null && options.Policy.NeedsForecast && this.services.Forecast == null)
            PolicyFactory.Create(options.Policy); // fails now, with the reason, rather than once the model is loaded
    }

    /// <summary>The running engine (null before it starts).</summary>
    public OffloadedExperts? Offloaded => offloaded;
    public OffloadStats? Stats => offloaded?.Stats;

    public void Attach(ExpertCatalog catalog, Device device)
    {
        this.catalog = catalog;
        this.device = device;
    }

    /// <summary>The experts' layout: parts in the order the runtime stacks them (input parts, then output).</summary>
    public static ExpertLayout LayoutOf(ExpertCatalog catalog)
    {
        if (catalog.PackedLayout is { } packed) return QuantizingExpertSource.LayoutOf(catalog.MoeLayers, catalog.NumExperts, packed);
        var id = catalog.Identity(catalog.MoeLayers[0], 0);
        var parts = id.InputParts.Append(id.Output).Select(t => new ExpertPart(t.Role, t.Shape)).ToArray();
        return new ExpertLayout(catalog.MoeLayers, catalog.NumExperts, parts, catalog.DType);
    }

    /// <summary>
    /// Reads expert parts from the model's memory-mapped checkpoint, converting to the compute dtype. A model with
    /// random weights (no checkpoint) gets deterministic random experts (<see cref="RandomExpertSource"/>).
    /// </summary>
    public static IExpertSource SourceOf(ExpertCatalog catalog)
    {
        if (catalog.PackedLayout is { } packed) return new QuantizingExpertSource(SourceOf(catalog.WithFormat(ExpertFormat.Unquantized)), packed);
        var layout = LayoutOf(catalog);
        if (catalog.Checkpoint is not { } checkpoint) return new RandomExpertSource(layout);
        var first = catalog.Identity(catalog.MoeLayers[0], 0);
        if (!checkpoint.Contains(first.Output.Name)) // made by the weight source (a pre-quantized checkpoint, dequantized)
            return new TensorExpertSource(layout, (key, role) =>
            {
                var t = catalog.Identity(key.Layer, key.Expert).InputParts.Append(catalog.Identity(key.Layer, key.Expert).Output).First(t => t.Role == role);
                return catalog.Weights.Load(t.Name, t.Shape, CPU, catalog.DType);
            });
        return new CheckpointExpertSource(checkpoint, layout, (key, role) =>
        {
            var id = catalog.Identity(key.Layer, key.Expert);
            return id.InputParts.Append(id.Output).First(t => t.Role == role).Name;
        });
    }

    /// <summary>
    /// Plans the budget for a model holding <paramref name="footprint"/> besides the slots (too small a budget fails
    /// here, naming the minimum). The host tier and the slots are allocated when the model's first step reaches the
    /// experts, as its KV cache and first activations already exist: in that order the caching allocator packs repeated
    /// runs in one process without growing (allocating the slots at load grew a third run by 0.13 GiB on the H200).
    /// Called once, after the model has attached the provider.
    /// </summary>
    public void Start(DeviceFootprint footprint)
    {
        if (offloaded != null || pending != null) throw new InvalidOperationException("the offloading engine was started already");
        if (catalog == null) throw new InvalidOperationException("the provider is not attached to a model yet");
        var from = services.Source ?? (services.SharedHost != null ? new StoreSource(services.SharedHost.Store) : SourceOf(catalog));
        if (!from.Layout.Parts.Select(p => p.Shape).SequenceEqual(LayoutOf(catalog).Parts.Select(p => p.Shape), new ShapeComparer()) || from.Layout.DType != LayoutOf(catalog).DType)
            throw new ArgumentException("the expert source does not match the model's experts (shapes or dtype)");
        var policy = services.Policy ?? PolicyFactory.Create(options.Policy, services.Forecast, options.Predictive);
        plan = OffloadedExperts.PlanFor(from.Layout, device, footprint, options, policy);
        pending = (from, footprint, policy);
    }

    /// <summary>The memory plan (after <see cref="Start"/>).</summary>
    public MemoryPlan Plan => plan ?? throw new InvalidOperationException("the offloading provider was not started; load the model through OffloadedModel");

    /// <summary>Allocates the host tier and the slots (at the first step that needs them).</summary>
    OffloadedExperts Allocate()
    {
        var (from, footprint, policy) = pending ?? throw new InvalidOperationException("the offloading provider was not started; load the model through OffloadedModel");
        pending = null;
        offloaded = OffloadedExperts.Create(from, device, footprint, options, services with { Policy = policy });
        if (catalog!.PackedLayout is { } packed)
        {
            scratch = new DequantScratch(packed, catalog.DType, device);
            return offloaded;
        }
        var id = catalog.Identity(catalog.MoeLayers[0], 0);
        int inputParts = id.InputParts.Count;
        slotWeights = new ExpertWeights[offloaded.Plan.Slots];
        for (int s = 0; s < slotWeights.Length; s++)
            slotWeights[s] = new ExpertWeights(offloaded.Slots.View(s, 0, inputParts, id.InputShape), offloaded.Slots.View(s, inputParts, 1, id.Output.Shape));
        return offloaded;
    }

    public void OnStep(StepInfo step)
    {
        EndStepIfOpen();
        rowsInStep = step.TokenIds.Count(t => t.Length > 0);
        Running.Engine.BeginStep(step);
    }

    public void OnRouting(RoutingDecision decision) { }

    public void OnRouted(int layer, IReadOnlyList<int> experts)
    {
        if (plannedLayer == layer) plannedLayer = -1; // PlanHost entered the layer already
        else EnterLayer(layer);
        Running.Engine.OnRouted(layer, experts);
    }

    /// <summary>When a layer comes round again, starts the next step (without an observer to say so).</summary>
    void EnterLayer(int layer)
    {
        var engine = Running.Engine;
        if (layer <= lastRoutedLayer && !engine.InStep) engine.BeginStep();
        else if (layer <= lastRoutedLayer && rowsInStep == 0) { EndStepIfOpen(); engine.BeginStep(); } // no observer: a new step starts
        lastRoutedLayer = layer;
    }

    /// <summary>True with <c>+cpu</c>.</summary>
    public bool ComputesOnHost => Running.Engine.HostCompute;

    public IReadOnlyList<int> PlanHost(int layer, IReadOnlyList<int> experts, IReadOnlyList<int> tokens)
    {
        EnterLayer(layer);
        plannedLayer = layer;
        return Running.Engine.PlanHostCompute(layer, experts, tokens);
    }

    public ExpertWeights HostWeights(int layer, int expert)
    {
        var engine = Running.Engine;
        if (catalog!.PackedLayout is { } packed)
        {
            using var bytes = engine.HostView(layer, expert, 0, 2, [packed.Bytes]);
            var (input, output) = packed.Dequantize(bytes, catalog.DType);
            return new ExpertWeights(input, output);
        }
        var id = catalog.Identity(layer, expert);
        int inputs = id.InputParts.Count;
        return new ExpertWeights(engine.HostView(layer, expert, 0, inputs, id.InputShape), engine.HostView(layer, expert, inputs, 1, id.Output.Shape));
    }

    public void HostDone(int layer, int expert, int tokens, double seconds) => Running.Engine.HostComputed(tokens, seconds);

    /// <summary>The policy's look-ahead width.</summary>
    public int AnticipatedExperts => Running.Engine.Policy.AnticipatedExperts;

    /// <summary>Ranks the guessed experts by how many tokens guessed them (then by their best rank) for the policy.</summary>
    public void Anticipate(int layer, long[] perToken, int k)
    {
        var ranked = perToken.Select((e, i) => (Expert: (int)e, Rank: i % k)).GroupBy(x => x.Expert)
            .OrderByDescending(g => g.Count()).ThenBy(g => g.Min(x => x.Rank)).ThenBy(g => g.Key)
            .Select(g => g.Key).ToArray();
        Running.Engine.Anticipate(layer, ranked);
    }

    public ExpertWeights Get(int layer, int expert)
    {
        int slot = Running.Engine.GetSlot(layer, expert);
        return scratch is null ? slotWeights[slot] : scratch.Dequantize(offloaded!.Slots.Storage(slot));
    }

    public void OnLayerDone(int layer) => Running.Engine.OnLayerDone(layer);

    /// <summary>Closes the last step (call after generation so the stats count it).</summary>
    public void Finish() => EndStepIfOpen();

    void EndStepIfOpen()
    {
        if (offloaded?.Engine.InStep == true) offloaded.Engine.EndStep(Math.Max(rowsInStep, 0));
    }

    /// <summary>The running engine; its absence is a wiring error (load offloaded models through <see cref="OffloadedModel"/>).</summary>
    OffloadedExperts Running => offloaded ?? Allocate();

    public void Dispose()
    {
        foreach (var w in slotWeights) { w.Input.Dispose(); w.Output.Dispose(); }
        scratch?.Dispose();
        offloaded?.Dispose();
    }

    sealed class StoreSource(IExpertStore store) : IExpertSource
    {
        public ExpertLayout Layout => store.Layout;
        public void Read(ExpertKey key, Span<byte> destination) => store.ReadInto(key, destination);
    }

    sealed class ShapeComparer : IEqualityComparer<long[]>
    {
        public bool Equals(long[]? a, long[]? b) => a != null && b != null && a.SequenceEqual(b);
        public int GetHashCode(long[] a) => a.Length;
    }
}
