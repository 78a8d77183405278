namespace Kimad.Training;

/// <summary>
/// The server's state after a completed round: model x, the workers' model copy w, every g_i, the next round,
/// the counters needed to continue the metrics. Written atomically (temporary file, then rename), so a crash
/// leaves either the previous or the new checkpoint, never a torn one.
/// </summary>
public sealed record ServerCheckpoint(string ModelVersion, long NextRound, double WallSeconds, long BytesUp, long BytesDown,
    float[][] X, float[][] W, IReadOnlyDictionary<int, float[][]> G)
{
    const string Magic = "KIMADCK1";

    public void Save(string path) => Toolkit.Reporting.Files.WriteAtomically(path, temp =>
    {
        using var stream = File.Create(temp);
        using var w = new BinaryWriter(stream);
        w.Write(Magic);
        w.Write(ModelVersion);
        w.Write(NextRound); w.Write(WallSeconds); w.Write(BytesUp); w.Write(BytesDown);
        WriteLayers(w, X);
        WriteLayers(w, W);
        w.Write(G.Count);
        foreach (var (worker, g) in G) { w.Write(worker); WriteLayers(w, g); }
        w.Flush();
        stream.Flush(flushToDisk: true);
    });

    public static ServerCheckpoint Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint '{path}' not found", path);
        using var stream = File.OpenRead(path);
        using var r = new BinaryReader(stream);
        try
        {
            if (r.ReadString() != Magic) throw new InvalidDataException($"'{path}' is not a Kimad server checkpoint");
            string version = r.ReadString();
            long next = r.ReadInt64(); double wall = r.ReadDouble(); long up = r.ReadInt64(); long down = r.ReadInt64();
            var x = ReadLayers(r); var wl = ReadLayers(r);
            int count = r.ReadInt32();
            if (count is < 0 or > 100_000) throw new InvalidDataException($"checkpoint '{path}': {count} workers");
            var g = new Dictionary<int, float[][]>();
            for (int i = 0; i < count; i++) { int id = r.ReadInt32(); g[id] = ReadLayers(r); }
            return new ServerCheckpoint(version, next, wall, up, down, x, wl, g);
        }
        catch (EndOfStreamException) { throw new InvalidDataException($"checkpoint '{path}' is truncated"); }
    }

    static void WriteLayers(BinaryWriter w, float[][] layers)
    {
        w.Write(layers.Length);
        foreach (var l in layers)
        {
            w.Write(l.Length);
            w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(l.AsSpan()));
        }
    }

    static float[][] ReadLayers(BinaryReader r)
    {
        int count = r.ReadInt32();
        if (count is < 0 or > 100_000) throw new InvalidDataException($"checkpoint: {count} layers");
        var layers = new float[count][];
        for (int i = 0; i < count; i++)
        {
            int n = r.ReadInt32();
            if (n is < 0 or > 1 << 28) throw new InvalidDataException($"checkpoint: layer of {n} elements");
            var bytes = r.ReadBytes(4 * n);
            if (bytes.Length != 4 * n) throw new EndOfStreamException();
            layers[i] = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).ToArray();
        }
        return layers;
    }
}
