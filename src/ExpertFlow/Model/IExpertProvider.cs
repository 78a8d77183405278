using static TorchSharp.torch;

namespace ExpertFlow.Model;

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
