using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>Per-step attention inputs of the decoder: RoPE rows, write positions, mask.</summary>
internal sealed class DecoderStep
{
    public required Tensor Cos { get; init; }   // [B, T, 1, hd]
    /// <summary>[-sin of the first half, sin of the second half] (see <see cref="Ops.RopeSigned"/>).</summary>
    public required Tensor SignedSin { get; init; }
    /// <summary>Flat cache slots (row*capacity+position) of the valid tokens.</summary>
    public required Tensor Slots { get; init; }
    /// <summary>Flat indices (row*T+t) of the valid tokens; null when all are valid.</summary>
    public Tensor? ValidIndex { get; init; }
    /// <summary>[B, 1, T, S] additive; null when nothing needs masking (one new token per row, all rows equally long).</summary>
    public required Tensor? Mask { get; init; }
    public required long KeyLength { get; init; }
    /// <summary>The mask for grouped-query attention (the g query heads of a kv head as g*T query rows): [B, 1, g*T, S]; null without a mask.</summary>
    public Tensor? GroupedMask { get; private init; }
    /// <summary>Sliding-window layers' mask [B, 1, T, S] (causal and within the window); null when no layer slides.</summary>
    public Tensor? SlidingMask { get; private init; }
    /// <summary><see cref="SlidingMask"/> laid out as <see cref="GroupedMask"/>.</summary>
    public Tensor? SlidingGroupedMask { get; private init; }

    /// <summary>
    /// A step whose mask is also laid out for grouped-query attention with <paramref name="groups"/> query heads per kv
    /// head. Made up front, in the step's scope: layers run in scopes of their own and must not create shared tensors.
    /// </summary>
    public static DecoderStep Create(Tensor cos, Tensor signedSin, Tensor slots, Tensor? validIndex, Tensor? mask, long keyLength, int groups, Tensor? slidingMask = null)
    {
        return new DecoderStep
        {
            Cos = cos, SignedSin = signedSin, Slots = slots, ValidIndex = validIndex, Mask = mask, KeyLength = keyLength,
            GroupedMask = Grouped(mask, groups), SlidingMask = slidingMask, SlidingGroupedMask = Grouped(slidingMask, groups),
        };
    }

    static Tensor? Grouped(Tensor? mask, int groups)
    {
        if (mask is null || groups == 1) return mask;
        long b = mask.shape[0], t = mask.shape[2], s = mask.shape[3];
        return mask.unsqueeze(2).expand(b, 1, groups, t, s).reshape(b, 1, groups * t, s);
    }
}
