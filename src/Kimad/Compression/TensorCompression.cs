using TorchSharp;
using static TorchSharp.torch;

namespace Kimad.Compression;

/// <summary>
/// Compression of TorchSharp tensors on their own device (CUDA where the tensor lives there): TopK by
/// torch.topk and scaled sign, producing exactly the wire format of <see cref="TopKCompressor"/> and
/// <see cref="ScaledSignCompressor"/> (only the k indices/values or the packed bits come back to the host).
/// </summary>
public static class TensorCompression
{
    /// <summary>TopK of a 1-D float32 tensor; same bytes as <see cref="TopKCompressor.Encode"/> up to the order of ties.</summary>
    public static byte[] TopK(Tensor vector, double ratio)
    {
        if (vector.dim() != 1 || vector.dtype != ScalarType.Float32) throw new ArgumentException($"TopK expects a 1-D float32 tensor, got {vector.dtype} of shape [{string.Join(", ", vector.shape)}]");
        int n = (int)vector.shape[0], k = Compressors.KeptCount(ratio, n);
        var bytes = new byte[TopKCompressor.SparseWireBytes(k)];
        int o = WireFormat.WriteHeader(bytes, CompressorKind.TopK, n);
        WireFormat.WriteInt(bytes.AsSpan(o), k);
        if (k == 0) return bytes;
        using var scope = NewDisposeScope();
        var (_, indices) = vector.abs().topk(k, sorted: false);
        var order = indices.sort().Values;   // ascending indices, as the CPU encoder writes them
        var values = vector.index_select(0, order);
        var idx = order.to(ScalarType.Int32).cpu().data<int>().ToArray();
        var val = values.cpu().data<float>().ToArray();
        for (int j = 0; j < k; j++)
        {
            WireFormat.WriteInt(bytes.AsSpan(o + 4 + 4 * j), idx[j]);
            WireFormat.WriteFloat(bytes.AsSpan(o + 4 + 4 * k + 4 * j), val[j]);
        }
        return bytes;
    }

    /// <summary>Scaled sign of a 1-D float32 tensor; the same bytes as <see cref="ScaledSignCompressor.Encode"/>.</summary>
    public static byte[] ScaledSign(Tensor vector)
    {
        if (vector.dim() != 1 || vector.dtype != ScalarType.Float32) throw new ArgumentException($"sign expects a 1-D float32 tensor, got {vector.dtype}");
        int n = (int)vector.shape[0];
        var c = new ScaledSignCompressor();
        var bytes = new byte[c.WireBytes(n)];
        int o = WireFormat.WriteHeader(bytes, CompressorKind.ScaledSign, n);
        using var scope = NewDisposeScope();
        float scale = n == 0 ? 0f : vector.abs().to(ScalarType.Float64).sum().item<double>() is var s ? (float)(s / n) : 0f;
        WireFormat.WriteFloat(bytes.AsSpan(o), scale);
        if (n == 0) return bytes;
        // Pack 8 sign bits per byte on the device: pad to a multiple of 8, weight bit i by 2^i, sum per group.
        int padded = (n + 7) / 8 * 8;
        var negative = vector.lt(0).to(ScalarType.Int32);
        if (padded != n) negative = nn.functional.pad(negative, [0, padded - n]);
        var weights = torch.tensor(new[] { 1, 2, 4, 8, 16, 32, 64, 128 }, device: vector.device);
        var packed = (negative.view(-1, 8) * weights).sum(1).to(ScalarType.Byte).cpu().data<byte>().ToArray();
        packed.CopyTo(bytes.AsSpan(o + 4));
        return bytes;
    }
}
