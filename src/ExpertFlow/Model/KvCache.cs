using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>
/// Preallocated key/value cache: per layer [rows, capacity, kv_heads, head_dim] keys and values, and the number of
/// positions each row (sequence) holds. Sequences are stored right-padded: row b's tokens occupy positions
/// 0..Lengths[b]-1, so every sequence keeps its own positions (no left-padding offsets); a step writes each row's
/// new tokens at its own length and attention masks everything beyond it. Values may be narrower or wider than keys
/// (latent attention keeps the compressed keys/values as "keys" and the shared rotary key as "values").
/// </summary>
public sealed class KvCache : IDisposable
{
    readonly Tensor[] keys, values;
    // views made once: flat [rows*capacity, kv, hd] for writes, [rows, kv, capacity, hd] for attention
    readonly Tensor[] flatKeys, flatValues, headKeys, headValues;

    readonly bool isView;

    public KvCache(int layers, int rows, int kvHeads, int capacity, int headDim, ScalarType dtype, Device device, int? valueDim = null)
    {
        int vd = valueDim ?? headDim;
        Rows = rows;
        Capacity = capacity;
        keys = new Tensor[layers];
        values = new Tensor[layers];
        for (int i = 0; i < layers; i++)
        {
            // owned by this cache, never by a caller's dispose scope
            keys[i] = zeros([rows, capacity, kvHeads, headDim], dtype, device).DetachFromDisposeScope();
            values[i] = zeros([rows, capacity, kvHeads, vd], dtype, device).DetachFromDisposeScope();
        }
        Lengths = new int[rows];
        flatKeys = keys.Select(k => k.view(rows * (long)capacity, kvHeads, headDim).DetachFromDisposeScope()).ToArray();
        flatValues = values.Select(v => v.view(rows * (long)capacity, kvHeads, vd).DetachFromDisposeScope()).ToArray();
        headKeys = keys.Select(k => k.transpose(1, 2).DetachFromDisposeScope()).ToArray();
        headValues = values.Select(v => v.transpose(1, 2).DetachFromDisposeScope()).ToArray();
    }

    /// <summary>
    /// A cache over this one's first <paramref name="rows"/> rows, sharing its memory (a step over fewer rows computes
    /// only those); its lengths are its own copy: copy them in before a step and out after (<see cref="CopyLengths"/>).
    /// Disposing the view leaves this cache's memory alone.
    /// </summary>
    public KvCache FirstRows(int rows)
    {
        if (rows < 1 || rows > Rows) throw new ArgumentOutOfRangeException(nameof(rows), $"a view of {rows} rows of a cache with {Rows}");
        return new KvCache(keys.Select(k => k.narrow(0, 0, rows)).ToArray(), values.Select(v => v.narrow(0, 0, rows)).ToArray(), rows, Capacity);
    }

    KvCache(Tensor[] keys, Tensor[] values, int rows, int capacity)
    {
        isView = true;
        Rows = rows;
        Capacity = capacity;
        this.keys = keys.Select(k => k.DetachFromDisposeScope()).ToArray();
        this.values = values.Select(v => v.DetachFromDisposeScope()).ToArray();
        Lengths = new int[rows];
        long kvHeads = keys[0].shape[2], headDim = keys[0].shape[3];
        flatKeys = this.keys.Select(k => k.view(rows * (long)capacity, kvHeads, headDim).DetachFromDisposeScope()).ToArray();
        long valueDim = values[0].shape[3];
        flatValues = this.values.Select(v => v.view(rows * (long)capacity, kvHeads, valueDim).DetachFromDisposeScope()).ToArray();
        headKeys = this.keys.Select(k => k.transpose(1, 2).DetachFromDisposeScope()).ToArray();
        headValues = this.values.Select(v => v.transpose(1, 2).DetachFromDisposeScope()).ToArray();
    }

    /// <summary>Copies the lengths of the rows two caches share (a view and the cache it was made from).</summary>
    public static void CopyLengths(KvCache from, KvCache to) => Array.Copy(from.Lengths, to.Lengths, Math.Min(from.Rows, to.Rows));

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
        var vf = v.reshape(b * t, heads, v.shape[3]);
        if (validIndex is not null) { kf = kf.index_select(0, validIndex); vf = vf.index_select(0, validIndex); }
        flatKeys[layer].index_copy_(0, slots, kf);
        flatValues[layer].index_copy_(0, slots, vf);
    }

    /// <summary>Keys or values of the first <paramref name="length"/> positions as [B, kv, length, hd] (a view).</summary>
    public Tensor KeysView(int layer, long length) => headKeys[layer].narrow(2, 0, length);
    public Tensor ValuesView(int layer, long length) => headValues[layer].narrow(2, 0, length);
    /// <summary>Bytes the cache's tensors take (0 for a view: the memory is its parent's).</summary>
    public long Bytes => isView ? 0 : keys.Concat(values).Sum(k => k.NumberOfElements * k.ElementSize);

    /// <summary>
    /// A new cache whose row i is a copy of row <c>rows[i].Row</c> of cache <c>rows[i].Source</c> (with its length):
    /// the "merge" and "reindex" a token scheduler needs when sequences move between batches. All sources must have
    /// the same layer count, head layout, dtype and device; <paramref name="capacity"/> defaults to the largest source's.
    /// </summary>
    public static KvCache Gather(IReadOnlyList<(KvCache Source, int Row)> rows, int? capacity = null)
    {
        if (rows.Count == 0) throw new ArgumentException("Gather needs at least one row.");
        var first = rows[0].Source;
        int cap = capacity ?? rows.Max(r => r.Source.Capacity);
        var k0 = first.keys[0];
        var result = new KvCache(first.keys.Length, rows.Count, (int)k0.shape[2], cap, (int)k0.shape[3], k0.dtype, k0.device, (int)first.values[0].shape[3]);
        using var scope = NewDisposeScope();
        for (int i = 0; i < rows.Count; i++)
        {
            var (source, row) = rows[i];
            if (row < 0 || row >= source.Rows) throw new ArgumentOutOfRangeException(nameof(rows), $"row {row} of a cache with {source.Rows} rows");
            int length = source.Lengths[row];
            if (length > cap) throw new ArgumentException($"row {row} holds {length} positions, more than the new capacity {cap}");
            if (source.keys.Length != first.keys.Length || source.keys[0].shape[2] != k0.shape[2] || source.keys[0].shape[3] != k0.shape[3]
                || source.values[0].shape[3] != first.values[0].shape[3])
                throw new ArgumentException("Gather: all source caches must belong to the same model.");
            for (int l = 0; l < first.keys.Length; l++)
            {
                result.keys[l][i].narrow(0, 0, length).copy_(source.keys[l][row].narrow(0, 0, length));
                result.values[l][i].narrow(0, 0, length).copy_(source.values[l][row].narrow(0, 0, length));
            }
            result.Lengths[i] = length;
        }
        return result;
    }

    /// <summary>Forgets every row's contents (the memory stays allocated).</summary>
    public void Clear() => Array.Clear(Lengths);

    /// <summary>True once disposed (a CUDA graph that writes into this cache must then go too).</summary>
    public bool IsDisposed { get; private set; }

    public void Dispose()
    {
        if (IsDisposed) return;
        IsDisposed = true;
        foreach (var t in flatKeys.Concat(flatValues).Concat(headKeys).Concat(headValues)) t.Dispose();
        foreach (var t in keys) t.Dispose();
        foreach (var t in values) t.Dispose();
    }
}
