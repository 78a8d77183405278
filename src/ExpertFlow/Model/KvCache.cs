using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>
/// Preallocated key/value cache: per layer [rows, capacity, kv_heads, head_dim] keys and values, and the number of
/// positions each row (sequence) holds. Sequences are stored right-padded: row b's tokens occupy positions
/// 0..Lengths[b]-1, so every sequence keeps its own positions (no left-padding offsets); a step writes each row's
/// new tokens at its own length and attention masks everything beyond it.
/// </summary>
public sealed class KvCache : IDisposable
{
    readonly Tensor[] keys, values;

    public KvCache(int layers, int rows, int kvHeads, int capacity, int headDim, ScalarType dtype, Device device)
    {
        Rows = rows;
        Capacity = capacity;
        keys = new Tensor[layers];
        values = new Tensor[layers];
        for (int i = 0; i < layers; i++)
        {
            keys[i] = zeros([rows, capacity, kvHeads, headDim], dtype, device);
            values[i] = zeros([rows, capacity, kvHeads, headDim], dtype, device);
        }
        Lengths = new int[rows];
    }

    public int Rows { get; }
    public int Capacity { get; }
    /// <summary>Positions held per row.</summary>
    public int[] Lengths { get; }

    public Tensor Keys(int layer) => keys[layer];
    public Tensor Values(int layer) => values[layer];

    /// <summary>
    /// Writes new keys/values [B, T, kv, hd] of a layer: only the valid tokens (flat index <paramref name="validIndex"/>
    /// into B*T, or all when null) go to their flat cache slots <paramref name="slots"/> (row*capacity+position).
    /// </summary>
    public void Write(int layer, Tensor k, Tensor v, Tensor slots, Tensor? validIndex)
    {
        long b = k.shape[0], t = k.shape[1], heads = k.shape[2], hd = k.shape[3];
        var kf = k.reshape(b * t, heads, hd); // a view for the strided slices of the fused projection
        var vf = v.reshape(b * t, heads, hd);
        if (validIndex is not null) { kf = kf.index_select(0, validIndex); vf = vf.index_select(0, validIndex); }
        keys[layer].view(Rows * (long)Capacity, heads, hd).index_copy_(0, slots, kf);
        values[layer].view(Rows * (long)Capacity, heads, hd).index_copy_(0, slots, vf);
    }

    /// <summary>Keys or values of the first <paramref name="length"/> positions as [B, kv, length, hd] (a view).</summary>
    public Tensor KeysView(int layer, long length) => keys[layer].narrow(1, 0, length).transpose(1, 2);
    public Tensor ValuesView(int layer, long length) => values[layer].narrow(1, 0, length).transpose(1, 2);
    public long Bytes => keys.Sum(k => k.NumberOfElements * k.ElementSize) * 2;

    /// <summary>Forgets every row's contents (the memory stays allocated).</summary>
    public void Clear() => Array.Clear(Lengths);

    public void Dispose()
    {
        foreach (var t in keys) t.Dispose();
        foreach (var t in values) t.Dispose();
    }
}
