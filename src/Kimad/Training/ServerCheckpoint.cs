namespace Kimad.Training;

/// <summary>
/// The server's state after a completed round: model x, every worker's model copy w_i and g_i, the next round,
/// the counters needed to continue the metrics (format 2; format 1, with one w shared by all workers, is still read). Written atomically (temporary file, then rename), so a crash
/// leaves either the previous or the new checkpoint, never a torn one.
/// </summary>
public sealed record ServerCheckpoint(string ModelVersion, long NextRound, double WallSeconds, long BytesUp, long BytesDown,
    float[][] X, IReadOnlyDictionary<int, float[][]> W, IReadOnlyDictionary<int, float[][]> G)
{
    const string Magic = "KIMADCK2", MagicSharedW = "KIMADCK1";

    public void Save(string path) => Toolkit.Reporting.Files.WriteAtomically(path, temp =>
    {
        using var stream = File.Create(temp);
        using var w = new BinaryWriter(stream);
        w.Write(Magic);
        w.Write(ModelVersion);
        w.Write(NextRound); w.Write(WallSeconds); w.Write(BytesUp); w.Write(BytesDown);
        WriteLayers(w, X);
        WriteWorkers(w, W);
        WriteWorkers(w, G);
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
            string magic = r.ReadString();
            if (magic != Magic && magic != MagicSharedW) throw new InvalidDataException($"'{path}' is not a Kimad server checkpoint");
            string version = r.ReadString();
            long next = r.ReadInt64(); double wall = r.ReadDouble(); long up = r.ReadInt64(); long down = r.ReadInt64();
            var x = ReadLayers(r);
            if (magic == Magic) return new ServerCheckpoint(version, next, wall, up, down, x, ReadWorkers(r, path), ReadWorkers(r, path));
            var shared = ReadLayers(r);
            var g = ReadWorkers(r, path);
            var w = g.Keys.ToDictionary(id => id, _ => shared.Select(a => (float[])a.Clone()).ToArray());
            return new ServerCheckpoint(version, next, wall, up, down, x, w, g);
        }
        catch (EndOfStreamException) { throw new InvalidDataException($"checkpoint '{path}' is truncated"); }
    }

    static void WriteWorkers(BinaryWriter w, IReadOnlyDictionary<int, float[][]> perWorker)
    {
        w.Write(perWorker.Count);
        foreach (var (worker, layers) in perWorker) { w.Write(worker); WriteLayers(w, layers); }
    }

    static Dictionary<int, float[][]> ReadWorkers(BinaryReader r, string path)
    {
        int count = r.ReadInt32();
        if (count is < 0 or > 100_000) throw new InvalidDataException($"checkpoint '{path}': {count} workers");
        var perWorker = new Dictionary<int, float[][]>();
        for (int i = 0; i < count; i++) { int id = r.ReadInt32(); perWorker[id] = ReadLayers(r); }
        return perWorker;
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
