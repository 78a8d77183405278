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

    /// <summary>Encodes each layer with its level.</summary>
    public static byte[] Encode(IReadOnlyList<float[]> layers, IReadOnlyList<double> ratios, Random random)
    {
        var lengths = layers.Select(l => l.Length).ToArray();
        var buffer = new byte[Bytes(lengths, ratios)];
        int o = 0;
        for (int l = 0; l < layers.Count; l++) o += CompressionLevels.For(ratios[l]).Encode(layers[l], buffer.AsSpan(o), random);
        return buffer;
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
