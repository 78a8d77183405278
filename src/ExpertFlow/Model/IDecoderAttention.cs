using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>A decoder layer's self-attention: grouped-query (<see cref="DecoderAttention"/>) or latent (<see cref="LatentAttention"/>).</summary>
internal interface IDecoderAttention
{
    /// <summary>Makes the views it needs once the weights are loaded.</summary>
    void Prepare();
    /// <summary>Releases the views made in <see cref="Prepare"/>.</summary>
    void Release();
    /// <summary>x: [B, T, H] normed hidden states; returns residual + attention output [B, T, H], writing this step's keys into the cache.</summary>
    Tensor Forward(Tensor x, Tensor residual, DecoderStep s, KvCache cache);
}
