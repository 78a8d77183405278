using static TorchSharp.torch;

namespace ExpertFlow.Model;

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
