namespace ExpertFlow.Model;

/// <summary>
/// The MXFP4 format of gpt-oss's checkpoints (OCP microscaling, FP4 E2M1 elements): blocks of 32 values share one E8M0
/// scale byte s (the value 2^(s - 127); 255 is not a number), each value a 4-bit E2M1 code, two codes per byte with the
/// even element in the low nibble. Code c means sign (bit 3) and magnitude 0, 0.5, 1, 1.5, 2, 3, 4, 6 (bits 0-2).
/// </summary>
public static class Mxfp4
{
    /// <summary>Values per scale.</summary>
    public const int BlockSize = 32;
    /// <summary>Bytes per block of values (two 4-bit codes a byte).</summary>
    public const int BlockBytes = BlockSize / 2;

    static readonly float[] E2M1 = [0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f, -0f, -0.5f, -1f, -1.5f, -2f, -3f, -4f, -6f];

    /// <summary>The value of a 4-bit E2M1 code (0..15).</summary>
    public static float Code(int code) => E2M1[code & 15];

    /// <summary>
    /// Decodes consecutive blocks: <paramref name="blocks"/> holds 16 bytes per block, <paramref name="scales"/> one byte
    /// per block, <paramref name="destination"/> receives 32 floats per block, in order (a row of a weight is its blocks
    /// in order). A scale of 255 (not a number) is an InvalidDataException naming <paramref name="what"/>.
    /// </summary>
    public static void Decode(ReadOnlySpan<byte> blocks, ReadOnlySpan<byte> scales, Span<float> destination, string what = "MXFP4 data")
    {
        if (blocks.Length != scales.Length * BlockBytes || destination.Length != scales.Length * BlockSize)
            throw new ArgumentException($"{what}: {blocks.Length} block bytes, {scales.Length} scales and {destination.Length} values do not match (16 bytes and 32 values per scale).");
        for (int b = 0; b < scales.Length; b++)
        {
            byte s = scales[b];
            if (s == 255) throw new InvalidDataException($"{what} has an MXFP4 scale of 255 (not a number) in block {b}; the checkpoint is damaged.");
            float scale = MathF.ScaleB(1f, s - 127);
            var src = blocks.Slice(b * BlockBytes, BlockBytes);
            var dst = destination.Slice(b * BlockSize, BlockSize);
            for (int j = 0; j < BlockBytes; j++)
            {
                dst[2 * j] = E2M1[src[j] & 15] * scale;
                dst[2 * j + 1] = E2M1[src[j] >> 4] * scale;
            }
        }
    }
}
