using static TorchSharp.torch;

namespace ExpertFlow.Model;

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
