using TorchSharp;
using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>
/// One expert's weights on the compute device, in the layout the MoE layer computes with.
/// Gated experts (all families but Switch): <see cref="Input"/> is [2*I, H], the gate rows (w1/gate_proj) followed by
/// the up rows (w3/up_proj); output = Output · (act(gate·x) ⊙ up·x). Ungated experts (Switch): Input is wi [F, H];
/// output = Output · act(Input·x). <see cref="Output"/> is [H, I] (w2/down_proj/wo).
/// The tensors are borrowed: the provider owns them and the layer never disposes them.
/// </summary>
public sealed record ExpertWeights(Tensor Input, Tensor Output);

/// <summary>
/// One checkpoint tensor of an expert: its role ("gate", "up" or "down"; Switch: "wi", "wo"), name, shape, and the
/// dtype it is stored in (null for random weights, which are made in the compute dtype).
/// </summary>
public sealed record ExpertTensor(string Role, string Name, long[] Shape, Toolkit.Runtime.Safetensors.SafetensorsDType? Stored = null);

/// <summary>
/// The host-side identity of one expert: which checkpoint tensors make it, in the order they are laid out in
/// <see cref="ExpertWeights"/> (Input parts first, in row order, then Output).
/// </summary>
public sealed record ExpertIdentity(int Layer, int Expert, IReadOnlyList<ExpertTensor> InputParts, ExpertTensor Output)
{
    /// <summary>Shape of <see cref="ExpertWeights.Input"/>: the input parts stacked along rows.</summary>
    public long[] InputShape => [InputParts.Sum(p => p.Shape[0]), InputParts[0].Shape[1]];
    public long ElementCount => InputParts.Sum(p => p.Shape[0] * p.Shape[1]) + Output.Shape[0] * Output.Shape[1];
}

/// <summary>
/// Everything an expert provider needs to know about a model's experts, without touching the device: which layers
/// are MoE layers, how many experts each has, and the checkpoint tensors of each expert. Layer numbers are the
/// model's layer indices (Switch: encoder blocks 0..N-1, then decoder blocks N..N+M-1).
/// </summary>
public sealed class ExpertCatalog(IReadOnlyList<int> moeLayers, int numExperts, bool gated, ScalarType dtype,
    Func<int, int, ExpertIdentity> identity, IWeightSource weights)
{
    /// <summary>Layer indices that hold experts, ascending.</summary>
    public IReadOnlyList<int> MoeLayers { get; } = moeLayers;
    public int NumExperts { get; } = numExperts;
    /// <summary>True for act(gate)·up experts, false for Switch's act(wi) experts.</summary>
    public bool Gated { get; } = gated;
    /// <summary>The dtype the model computes in (the provider must hand out tensors of this dtype).</summary>
    public ScalarType DType { get; } = dtype;
    /// <summary>Where the model's weights come from (use it to build host copies of experts).</summary>
    public IWeightSource Weights { get; } = weights;
    /// <summary>The memory-mapped checkpoint, when the weights come from files (zero-copy host reads); null for random weights.</summary>
    public Toolkit.Runtime.Safetensors.SafetensorsCheckpoint? Checkpoint => Weights.Checkpoint;
    public ExpertIdentity Identity(int layer, int expert)
    {
        var id = identity(layer, expert);
        if (Checkpoint is not { } ck) return id;
        ExpertTensor WithStored(ExpertTensor t) => ck.Contains(t.Name) ? t with { Stored = ck.Info(t.Name).DType } : t;
        return id with { InputParts = id.InputParts.Select(WithStored).ToArray(), Output = WithStored(id.Output) };
    }
    /// <summary>Bytes of one expert in the compute dtype.</summary>
    public long ExpertBytes(int layer) => Identity(layer, 0).ElementCount * DTypeSize(DType);

    internal static int DTypeSize(ScalarType t) => t switch
    {
        ScalarType.Float32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 => 2,
        ScalarType.Float64 => 8,
        _ => throw new ArgumentException($"unsupported compute dtype {t}"),
    };

    /// <summary>Reads one expert from the checkpoint into [Input, Output] tensors on <paramref name="device"/>.</summary>
    public ExpertWeights Load(int layer, int expert, Device device)
    {
        var id = Identity(layer, expert);
        using var scope = NewDisposeScope();
        var parts = id.InputParts.Select(p => Weights.Load(p.Name, p.Shape, device, DType)).ToArray();
        var input = parts.Length == 1 ? parts[0] : cat(parts, 0);
        var output = Weights.Load(id.Output.Name, id.Output.Shape, device, DType);
        return new ExpertWeights(input.MoveToOuterDisposeScope(), output.MoveToOuterDisposeScope());
    }
}

/// <summary>
/// THE SEAM between the model and whoever owns expert weights (all resident, or an offloading engine).
/// For every MoE layer and every forward step the layer calls, in this order:
/// <list type="number">
/// <item><see cref="OnRouted"/> once, as soon as the router has chosen the experts of the layer (ascending, distinct);</item>
/// <item><see cref="Get"/> for each of those experts, in that order, just before computing it (may block until its copy has landed);</item>
/// <item><see cref="OnLayerDone"/> after the layer's experts have been computed (their weights may be reused from then on).</item>
/// </list>
/// Calls come from the thread running the model, one step at a time.
/// </summary>
public interface IExpertProvider : IDisposable
{
    /// <summary>Called once when the model is built, before any other call.</summary>
    void Attach(ExpertCatalog catalog, Device device);
    void OnRouted(int layer, IReadOnlyList<int> experts);
    ExpertWeights Get(int layer, int expert);
    void OnLayerDone(int layer);
}

/// <summary>
/// Optional capability of a provider that wants a guess of the next MoE layer's experts before the current layer's
/// experts run: the next layer's router (after its own norm) applied to the current layer's input. The runtime computes
/// it on the device next to the current router and brings it to the host in the same round trip, then calls
/// <see cref="Anticipate"/> right after <see cref="IExpertProvider.OnRouted"/> of the current layer.
/// </summary>
public interface IAnticipatingProvider
{
    /// <summary>Experts per token to guess (0: none; the runtime then skips the guess).</summary>
    int AnticipatedExperts { get; }
    /// <summary>The guess for MoE layer <paramref name="layer"/>: <paramref name="perToken"/> holds <paramref name="k"/> expert ids per token, most likely first.</summary>
    void Anticipate(int layer, long[] perToken, int k);
}

/// <summary>
/// Optional capability of a provider that can have some experts computed on the host CPU, from host memory, instead of
/// moving them to the compute device. Per MoE layer, when <see cref="ComputesOnHost"/>, the runtime calls <see cref="PlanHost"/> before
/// <see cref="IExpertProvider.OnRouted"/>, computes the returned experts first on the CPU with
/// <see cref="HostWeights"/> (while the others' copies run), reports each with <see cref="HostDone"/>, and moves their
/// outputs to the compute device; the provider's <see cref="IExpertProvider.Get"/> is not called for them.
/// </summary>
public interface IHostComputeProvider
{
    /// <summary>False: the runtime skips host planning altogether (no <see cref="PlanHost"/> calls).</summary>
    bool ComputesOnHost { get; }
    /// <summary>Which of the layer's <paramref name="experts"/> (with <paramref name="tokens"/> tokens each) to compute on the host.</summary>
    IReadOnlyList<int> PlanHost(int layer, IReadOnlyList<int> experts, IReadOnlyList<int> tokens);
    /// <summary>CPU tensors of a host expert, in the layout of <see cref="ExpertWeights"/>; the caller disposes them.</summary>
    ExpertWeights HostWeights(int layer, int expert);
    /// <summary>A host expert with <paramref name="tokens"/> tokens took <paramref name="seconds"/> of host compute.</summary>
    void HostDone(int layer, int expert, int tokens, double seconds);
}

/// <summary>
/// Optional capability of a provider whose experts of a layer all sit on the device as stacked tensors
/// ([E, 2I, H] inputs, [E, H, I] outputs). The MoE layer then may skip the host round trip of the routing
/// (no <see cref="IExpertProvider.OnRouted"/>/<see cref="IExpertProvider.Get"/> calls for that layer and step)
/// and compute with batched kernels. Return null for a layer that is not fully resident.
/// </summary>
public interface IStackedExperts
{
    (Tensor Inputs, Tensor Outputs)? Stacked(int layer);
}

/// <summary>All experts on the compute device, stacked per layer. The default provider.</summary>
public sealed class ResidentExpertProvider : IExpertProvider, IStackedExperts
{
    readonly Dictionary<int, (Tensor Inputs, Tensor Outputs)> layers = [];
    readonly bool offerStacked;

    /// <param name="offerStacked">False hides the stacked fast path, so every step goes through OnRouted/Get (tests use it).</param>
    public ResidentExpertProvider(bool offerStacked = true) => this.offerStacked = offerStacked;

    public void Attach(ExpertCatalog catalog, Device device)
    {
        foreach (int layer in catalog.MoeLayers)
        {
            var shape = catalog.Identity(layer, 0);
            var inputs = empty([catalog.NumExperts, .. shape.InputShape], catalog.DType, device);
            var outputs = empty([catalog.NumExperts, .. shape.Output.Shape], catalog.DType, device);
            for (int e = 0; e < catalog.NumExperts; e++)
            {
                var w = catalog.Load(layer, e, device);
                using (w.Input) using (w.Output)
                {
                    inputs[e].copy_(w.Input);
                    outputs[e].copy_(w.Output);
                }
            }
            layers[layer] = (inputs.DetachFromDisposeScope(), outputs.DetachFromDisposeScope());
        }
    }

    public void OnRouted(int layer, IReadOnlyList<int> experts) { }

    public ExpertWeights Get(int layer, int expert)
    {
        var (inputs, outputs) = layers[layer];
        return new ExpertWeights(inputs[expert], outputs[expert]);
    }

    public void OnLayerDone(int layer) { }

    public (Tensor Inputs, Tensor Outputs)? Stacked(int layer) => offerStacked && layers.TryGetValue(layer, out var t) ? t : null;

    public void Dispose()
    {
        foreach (var (a, b) in layers.Values) { a.Dispose(); b.Dispose(); }
        layers.Clear();
    }
}
