using static TorchSharp.torch;

#pragma warning disable IDE1006 // field names are the Hugging Face checkpoint keys

namespace ExpertFlow.Demo;

/// <summary>Routing of one forward pass: per layer, the top-k expert ids [tokens, k] and router logits [tokens, E].</summary>
public sealed record RoutingCapture(IReadOnlyList<Tensor> ExpertIds, IReadOnlyList<Tensor> RouterLogits);
