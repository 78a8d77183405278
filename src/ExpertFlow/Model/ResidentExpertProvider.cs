using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>
/// All experts on the compute device, stacked per layer. The default provider. Quantized experts (the catalog's
/// <see cref="ExpertCatalog.Format"/>) stay packed on the device, [E, bytes] per layer, and are dequantized when used.
/// </summary>
public sealed class ResidentExpertProvider : IExpertProvider, IStackedExperts, IPackedStackedExperts
{
    readonly Dictionary<int, (Tensor Inputs, Tensor Outputs)> layers = [];
    readonly Dictionary<int, Tensor> packedLayers = [];
    readonly bool offerStacked;
    PackedExpertLayout? packedLayout;
    DequantScratch? scratch;

    /// <param name="offerStacked">False hides the stacked fast path, so every step goes through OnRouted/Get (tests use it).</param>
    public ResidentExpertProvider(bool offerStacked = true) => this.offerStacked = offerStacked;

    public void Attach(ExpertCatalog catalog, Device device)
    {
        if (catalog.PackedLayout is { } packed)
        {
            AttachPacked(catalog, packed, device);
            return;
        }
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

    void AttachPacked(ExpertCatalog catalog, PackedExpertLayout layout, Device device)
    {
        packedLayout = layout;
        scratch = new DequantScratch(layout, catalog.DType, device);
        foreach (int layer in catalog.MoeLayers)
        {
            using var host = empty([catalog.NumExperts, layout.Bytes], ScalarType.Byte);
            var bytes = host.bytes; // a span over the tensor's storage
            for (int e = 0; e < catalog.NumExperts; e++)
                catalog.Pack(layer, e, bytes.Slice((int)(e * layout.Bytes), (int)layout.Bytes));
            packedLayers[layer] = host.to(device).DetachFromDisposeScope();
        }
    }

    public void OnRouted(int layer, IReadOnlyList<int> experts) { }

    public ExpertWeights Get(int layer, int expert)
    {
        if (scratch != null) return scratch.Dequantize(packedLayers[layer][expert]);
        var (inputs, outputs) = layers[layer];
        return new ExpertWeights(inputs[expert], outputs[expert]);
    }

    public void OnLayerDone(int layer) { }

    public (Tensor Inputs, Tensor Outputs)? Stacked(int layer) => offerStacked && layers.TryGetValue(layer, out var t) ? t : null;

    public (Tensor Packed, PackedExpertLayout Layout)? Packed(int layer) =>
        offerStacked && packedLayers.TryGetValue(layer, out var t) ? (t, packedLayout!) : null;

    public void Dispose()
    {
        foreach (var (a, b) in layers.Values) { a.Dispose(); b.Dispose(); }
        foreach (var p in packedLayers.Values) p.Dispose();
        layers.Clear();
        packedLayers.Clear();
        scratch?.Dispose();
    }
}
