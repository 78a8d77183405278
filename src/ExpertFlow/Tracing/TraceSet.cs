namespace ExpertFlow.Tracing;

/// <summary>A model's routing traces for predictor training and evaluation: training sequences and held-out ones.</summary>
public sealed record TraceSet(RoutingTraceHeader Header, List<TracedSequence> Train, List<TracedSequence> HeldOut)
{
    public const string TrainFile = "train.eftrace";
    public const string HeldOutFile = "heldout.eftrace";

    /// <summary>Writes both traces into <paramref name="folder"/> (atomically).</summary>
    public void Save(string folder)
    {
        Directory.CreateDirectory(folder);
        RoutingTraceFile.Write(Path.Combine(folder, TrainFile), Header, RoutingTraceFile.ToRoutes(Train));
        RoutingTraceFile.Write(Path.Combine(folder, HeldOutFile), Header, RoutingTraceFile.ToRoutes(HeldOut));
    }

    /// <summary>Reads the held-out trace of <paramref name="folder"/> only (what the cache evaluation draws prompts from).</summary>
    public static (RoutingTraceHeader Header, List<TracedSequence> HeldOut) LoadHeldOut(string folder)
    {
        string path = Path.Combine(folder, HeldOutFile);
        var (header, routes) = RoutingTraceFile.Read(path);
        return (header, RoutingTraceFile.ToSequences(routes, path));
    }

    /// <summary>Reads both traces of <paramref name="folder"/>; they must describe the same model.</summary>
    public static TraceSet Load(string folder)
    {
        string trainPath = Path.Combine(folder, TrainFile);
        var (header, train) = RoutingTraceFile.Read(trainPath);
        var (heldHeader, heldOut) = LoadHeldOut(folder);
        if (heldHeader != header) throw new InvalidDataException($"{folder}: {TrainFile} ({header}) and {HeldOutFile} ({heldHeader}) describe different models");
        return new TraceSet(header, RoutingTraceFile.ToSequences(train, trainPath), heldOut);
    }
}
