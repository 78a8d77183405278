using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>
/// Optional capability of a provider whose quantized experts of a layer all sit on the device, packed and stacked
/// (uint8 [E, <see cref="PackedExpertLayout.Bytes"/>]). The MoE layer then skips the host round trip as with
/// <see cref="IStackedExperts"/>: it gathers and dequantizes the chosen experts (few tokens) or dequantizes all of them
/// (many tokens) with device ops, inside CUDA graphs. Return null for a layer that is not fully resident.
/// </summary>
public interface IPackedStackedExperts
{
    (Tensor Packed, PackedExpertLayout Layout)? Packed(int layer);
}
