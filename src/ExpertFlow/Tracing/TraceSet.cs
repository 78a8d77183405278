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
        var (header, routes) = RoutingTraceFile.Read(Path.Combine(folder, HeldOutFile));
        return (header, RoutingTraceFile.ToSequences(routes));
    }

    /// <summary>Reads both traces of <paramref name="folder"/>; they must describe the same model.</summary>
    public static TraceSet Load(string folder)
    {
        var (header, train) = RoutingTraceFile.Read(Path.Combine(folder, TrainFile));
        var (heldHeader, heldOut) = LoadHeldOut(folder);
        if (heldHeader != header) throw new InvalidDataException($"{folder}: {TrainFile} ({header}) and {HeldOutFile} ({heldHeader}) describe different models");
        return new TraceSet(header, RoutingTraceFile.ToSequences(train), heldOut);
    }
}
