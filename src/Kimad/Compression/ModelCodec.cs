namespace Kimad.Compression;

/// <summary>A whole-model message: the layers' encodings back to back, in layer order.</summary>
public static class ModelCodec
{
    /// <summary>Exact message size for the given per-layer levels.</summary>
    public static long Bytes(IReadOnlyList<int> layerLengths, IReadOnlyList<double> ratios)
    {
        long total = 0;
        for (int l = 0; l < layerLengths.Count; l++) total += CompressionLevels.Bytes(ratios[l], layerLengths[l]);
        return total;
    }

    /// <summary>Exact message size for the given per-layer compressors.</summary>
    public static long Bytes(IReadOnlyList<int> layerLengths, IReadOnlyList<ICompressor> compressors)
    {
        long total = 0;
        for (int l = 0; l < layerLengths.Count; l++) total += compressors[l].WireBytes(layerLengths[l]);
        return total;
    }

    /// <summary>Encodes each layer with its level (TopK ratio; 1 = identity).</summary>
    public static byte[] Encode(IReadOnlyList<float[]> layers, IReadOnlyList<double> ratios, Random random) =>
        Encode(layers, ratios.Select(CompressionLevels.For).ToArray(), random);

    /// <summary>Encodes each layer with its compressor.</summary>
    public static byte[] Encode(IReadOnlyList<float[]> layers, IReadOnlyList<ICompressor> compressors, Random random)
    {
        var lengths = layers.Select(l => l.Length).ToArray();
        var buffer = new byte[Bytes(lengths, compressors)];
        int o = 0;
        for (int l = 0; l < layers.Count; l++)
        {
            int written = compressors[l].Encode(layers[l], buffer.AsSpan(o), random);
            if (written != compressors[l].WireBytes(layers[l].Length)) throw new InvalidOperationException($"{compressors[l].Name} wrote {written} bytes, announced {compressors[l].WireBytes(layers[l].Length)}");
            o += written;
        }
        return buffer;
    }

    /// <summary>
    /// Encodes each layer losslessly: its nonzero entries as a sparse list (the TopK wire format: count, ascending int32
    /// indices, float32 values) when that is smaller than the dense layer, else the dense layer.
    /// </summary>
    public static byte[] EncodeExact(IReadOnlyList<float[]> layers)
    {
        var parts = new List<byte[]>(layers.Count);
        foreach (var v in layers)
        {
            int k = 0;
            foreach (float x in v) if (x != 0) k++;
            var identity = new IdentityCompressor();
            if (TopKCompressor.SparseWireBytes(k) >= identity.WireBytes(v.Length))
            {
                var dense = new byte[identity.WireBytes(v.Length)];
                identity.Encode(v, dense, Random.Shared);
                parts.Add(dense);
                continue;
            }
            var sparse = new byte[TopKCompressor.SparseWireBytes(k)];
            int o = WireFormat.WriteHeader(sparse, CompressorKind.TopK, v.Length);
            WireFormat.WriteInt(sparse.AsSpan(o), k);
            o += 4;
            for (int i = 0, j = 0; i < v.Length; i++)
            {
                if (v[i] == 0) continue;
                WireFormat.WriteInt(sparse.AsSpan(o + 4 * j), i);
                WireFormat.WriteFloat(sparse.AsSpan(o + 4 * k + 4 * j), v[i]);
                j++;
            }
            parts.Add(sparse);
        }
        var message = new byte[parts.Sum(p => p.Length)];
        int offset = 0;
        foreach (var p in parts) { p.CopyTo(message, offset); offset += p.Length; }
        return message;
    }

    /// <summary>Decodes a message into <paramref name="destination"/> (one array per layer, shapes fixed by the model).
    /// Throws <see cref="InvalidDataException"/> naming the layer when anything is malformed or bytes are left over.</summary>
    public static void Decode(ReadOnlySpan<byte> message, IReadOnlyList<float[]> destination, IReadOnlyList<string>? names = null)
    {
        int o = 0;
        for (int l = 0; l < destination.Count; l++)
            o += WireCodec.Decode(message[o..], destination[l], $"layer {l} ({names?[l] ?? "?"})");
        if (o != message.Length) throw new InvalidDataException($"malformed message: {message.Length - o} bytes left after the last layer");
    }
}
