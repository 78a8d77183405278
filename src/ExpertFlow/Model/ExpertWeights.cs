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
