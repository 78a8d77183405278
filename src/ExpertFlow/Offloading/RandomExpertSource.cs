using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace ExpertFlow.Offloading;

/// <summary>
/// Deterministic pseudo-random experts (for benchmarks with random weights): values uniform in
/// [-scale, scale], generated from (seed, layer, expert), so any tier reproduces the same bytes.
/// Supports bf16, fp16 and fp32.
/// </summary>
public sealed class RandomExpertSource(ExpertLayout layout, ulong seed = 1, float scale = 0.02f) : IExpertSource
{
    public ExpertLayout Layout { get; } = layout;

    public void Read(ExpertKey key, Span<byte> destination)
    {
        TensorExpertSource.CheckDestination(Layout, destination);
        ulong state = seed * 0x9E3779B97F4A7C15UL ^ ((ulong)(uint)key.Layer << 32 | (uint)key.Expert) * 0xBF58476D1CE4E5B9UL;
        if (state == 0) state = 1;
        switch (Layout.DType)
        {
            case ScalarType.BFloat16:
                var bf = MemoryMarshal.Cast<byte, ushort>(destination);
                for (int i = 0; i < bf.Length; i++) bf[i] = (ushort)(BitConverter.SingleToUInt32Bits(Next(ref state)) >> 16);
                break;
            case ScalarType.Float16:
                var h = MemoryMarshal.Cast<byte, Half>(destination);
                for (int i = 0; i < h.Length; i++) h[i] = (Half)Next(ref state);
                break;
            case ScalarType.Float32:
                var f = MemoryMarshal.Cast<byte, float>(destination);
                for (int i = 0; i < f.Length; i++) f[i] = Next(ref state);
                break;
            default: throw new ArgumentException($"random experts support bf16, fp16 and fp32, not {Layout.DType}");
        }
    }

    float Next(ref ulong s)
    {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17; // xorshift64
        return ((s >> 40) * (1.0f / (1 << 24)) * 2f - 1f) * scale;
    }
}
