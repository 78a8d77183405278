using ExpertFlow.Model;
using ExpertFlow.Offloading.Policies;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using static TorchSharp.torch;

namespace ExpertFlow.Offloading;

/// <summary>
/// The offloading engine behind the model runtime's <see cref="IExpertProvider"/> seam. Experts live in the
/// host tier (pinned arena on CUDA, memory-mapped checkpoint on CPU by default) and are cached in device slots
/// under the memory budget. The engine is built lazily at the first routed layer (after the model has
/// materialised its dense weights and its KV cache, so the footprint is known), or explicitly with
/// <see cref="Start"/>. Register it as a routing observer too (<c>model.Observers.Add(provider)</c>) so step
/// boundaries and token ids reach the policy; without that, a new step is detected when the first MoE layer
/// is routed again. A lease on an expert ends at the next <see cref="Get"/> or at the layer's end (the runtime
/// computes one expert at a time).
/// </summary>
public sealed class OffloadingExpertProvider : IExpertProvider, IRoutingObserver, IAnticipatingProvider, IHostComputeProvider
{
    OffloadOptions options;
    readonly Func<DeviceFootprint> footprint;
    readonly ILogger log;
    readonly Func<IOffloadPolicy>? makePolicy;
    readonly HostExperts? sharedHost;
    readonly IExpertSource? source;
    readonly Func<long>? measureDeviceBytes;
    ExpertCatalog? catalog;
    Device device = CPU;
    OffloadedExperts? offloaded;
    ExpertWeights[] slotWeights = [];
    int lastRoutedLayer = int.MaxValue;
    int plannedLayer = -1;
    int rowsInStep;

    /// <param name="options">Policy, budget, host tier.</param>
    /// <param name="footprint">What the model holds besides expert slots, asked when the engine starts (CUDA only).</param>
    /// <param name="log">Logger.</param>
    /// <param name="policy">A policy instance factory (e.g. ExpertFlow's predictive one); default: by name from the options.</param>
    /// <param name="sharedHost">A host tier built beforehand and shared across runs (not disposed here).</param>
    /// <param name="source">Where expert bytes come from; default: the model's checkpoint.</param>
    /// <param name="measureDeviceBytes">Device memory the model holds now (for the stats), e.g. driver-used minus a baseline.</param>
    public OffloadingExpertProvider(OffloadOptions options, Func<DeviceFootprint> footprint, ILogger? log = null, Func<IOffloadPolicy>? policy = null,
        HostExperts? sharedHost = null, IExpertSource? source = null, Func<long>? measureDeviceBytes = null)
    {
        this.sharedHost = sharedHost;
        this.source = source;
        this.measureDeviceBytes = measureDeviceBytes;
        this.options = options with { ImplicitRelease = true };
        this.footprint = footprint;
        this.log = log ?? NullLogger.Instance;
        makePolicy = policy;
        if (policy == null) PolicyFactory.Create(options.Policy); // fail early on an unknown name
    }

    /// <summary>Sets --memory before the engine starts (e.g. once the model's footprint is known).</summary>
    public void SetBudget(long? bytes)
    {
        if (offloaded != null) throw new InvalidOperationException("the budget cannot change once the engine runs");
        options = options with { MemoryBytes = bytes };
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
        var layout = LayoutOf(catalog);
        if (catalog.Checkpoint is not { } checkpoint) return new RandomExpertSource(layout);
        return new CheckpointExpertSource(checkpoint, layout, (key, role) =>
        {
            var id = catalog.Identity(key.Layer, key.Expert);
            return id.InputParts.Append(id.Output).First(t => t.Role == role).Name;
        });
    }

    /// <summary>
    /// Bytes of the non-expert weights in the compute dtype, counted from the checkpoint's tensors (every tensor
    /// that is not a routed expert's), or null for a model without a checkpoint.
    /// </summary>
    public static long? ResidentWeightBytes(ExpertCatalog catalog)
    {
        if (catalog.Checkpoint is not { } checkpoint) return null;
        var experts = new HashSet<string>();
        foreach (int layer in catalog.MoeLayers)
            for (int e = 0; e < catalog.NumExperts; e++)
            {
                var id = catalog.Identity(layer, e);
                foreach (var t in id.InputParts.Append(id.Output)) experts.Add(t.Name);
            }
        int size = ExpertLayout.ElementSizeOf(catalog.DType);
        return checkpoint.Tensors.Values.Where(t => !experts.Contains(t.Name)).Sum(t => t.ElementCount * size);
    }

    /// <summary>Builds the engine now (host tier, slots, initial loads). Called lazily otherwise.</summary>
    public void Start()
    {
        if (offloaded != null) return;
        if (catalog == null) throw new InvalidOperationException("the provider is not attached to a model yet");
        var from = source ?? (sharedHost != null ? new StoreSource(sharedHost.Store) : SourceOf(catalog));
        if (!from.Layout.Parts.Select(p => p.Shape).SequenceEqual(LayoutOf(catalog).Parts.Select(p => p.Shape), new ShapeComparer()) || from.Layout.DType != catalog.DType)
            throw new ArgumentException("the expert source does not match the model's experts (shapes or dtype)");
        offloaded = OffloadedExperts.Create(from, device, footprint(), options, log, makePolicy?.Invoke(), sharedHost, measureDeviceBytes);
        var id = catalog.Identity(catalog.MoeLayers[0], 0);
        int inputParts = id.InputParts.Count;
        slotWeights = new ExpertWeights[offloaded.Plan.Slots];
        for (int s = 0; s < slotWeights.Length; s++)
            slotWeights[s] = new ExpertWeights(offloaded.Slots.View(s, 0, inputParts, id.InputShape), offloaded.Slots.View(s, inputParts, 1, id.Output.Shape));
    }

    public void OnStep(StepInfo step)
    {
        EnsureStarted();
        EndStepIfOpen();
        rowsInStep = step.TokenIds.Count(t => t.Length > 0);
        offloaded!.Engine.BeginStep(step);
    }

    public void OnRouting(RoutingDecision decision) { }

    public void OnRouted(int layer, IReadOnlyList<int> experts)
    {
        if (plannedLayer == layer) plannedLayer = -1; // PlanHost entered the layer already
        else EnterLayer(layer);
        offloaded!.Engine.OnRouted(layer, experts);
    }

    /// <summary>Starts the engine and, when a layer comes round again, the next step (without an observer to say so).</summary>
    void EnterLayer(int layer)
    {
        EnsureStarted();
        var engine = offloaded!.Engine;
        if (layer <= lastRoutedLayer && !engine.InStep) engine.BeginStep();
        else if (layer <= lastRoutedLayer && rowsInStep == 0) { EndStepIfOpen(); engine.BeginStep(); } // no observer: a new step starts
        lastRoutedLayer = layer;
    }

    /// <summary>True with <c>+cpu</c> (starts the engine, as <see cref="AnticipatedExperts"/> does).</summary>
    public bool ComputesOnHost
    {
        get
        {
            EnsureStarted();
            return offloaded!.Engine.HostCompute;
        }
    }

    public IReadOnlyList<int> PlanHost(int layer, IReadOnlyList<int> experts, IReadOnlyList<int> tokens)
    {
        EnterLayer(layer);
        plannedLayer = layer;
        return offloaded!.Engine.PlanHostCompute(layer, experts, tokens);
    }

    public ExpertWeights HostWeights(int layer, int expert)
    {
        var id = catalog!.Identity(layer, expert);
        int inputs = id.InputParts.Count;
        var engine = offloaded!.Engine;
        return new ExpertWeights(engine.HostView(layer, expert, 0, inputs, id.InputShape), engine.HostView(layer, expert, inputs, 1, id.Output.Shape));
    }

    public void HostDone(int layer, int expert, int tokens, double seconds) => offloaded!.Engine.HostComputed(tokens, seconds);

    /// <summary>The policy's look-ahead width (starts the engine: the model asks once its KV cache exists).</summary>
    public int AnticipatedExperts
    {
        get
        {
            EnsureStarted();
            return offloaded!.Engine.Policy.AnticipatedExperts;
        }
    }

    /// <summary>Ranks the guessed experts by how many tokens guessed them (then by their best rank) for the policy.</summary>
    public void Anticipate(int layer, long[] perToken, int k)
    {
        var ranked = perToken.Select((e, i) => (Expert: (int)e, Rank: i % k)).GroupBy(x => x.Expert)
            .OrderByDescending(g => g.Count()).ThenBy(g => g.Min(x => x.Rank)).ThenBy(g => g.Key)
            .Select(g => g.Key).ToArray();
        offloaded!.Engine.Anticipate(layer, ranked);
    }

    public ExpertWeights Get(int layer, int expert) => slotWeights[offloaded!.Engine.GetSlot(layer, expert)];

    public void OnLayerDone(int layer) => offloaded!.Engine.OnLayerDone(layer);

    /// <summary>Closes the last step (call after generation so the stats count it).</summary>
    public void Finish() => EndStepIfOpen();

    void EndStepIfOpen()
    {
        if (offloaded?.Engine.InStep == true) offloaded.Engine.EndStep(Math.Max(rowsInStep, 0));
    }

    void EnsureStarted()
    {
        if (offloaded == null) Start();
    }

    public void Dispose()
    {
        foreach (var w in slotWeights) { w.Input.Dispose(); w.Output.Dispose(); }
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
