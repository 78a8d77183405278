namespace ExpertFlow.Tracing;

/// <summary>A model's routing traces for predictor training and evaluation: training sequences and held-out ones.</summary>
public sealed record TraceSet(RoutingTraceHeader Header, List<TracedSequence> Train, List<TracedSequence> HeldOut)
{
    /// <summary>The folder the traces were read from (null when built in memory); errors name its files.</summary>
    public string? Folder { get; init; }

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
        return new TraceSet(header, RoutingTraceFile.ToSequences(train, trainPath), heldOut) { Folder = folder };
    }

    /// <summary>
    /// Throws InvalidDataException naming the trace file when a token id lies outside a vocabulary of
    /// <paramref name="vocabSize"/> tokens (traces of another model, or damaged ones).
    /// </summary>
    public void CheckVocabulary(int vocabSize)
    {
        CheckVocabulary(Train, vocabSize, Folder == null ? TrainFile : Path.Combine(Folder, TrainFile));
        CheckVocabulary(HeldOut, vocabSize, Folder == null ? HeldOutFile : Path.Combine(Folder, HeldOutFile));
    }

    /// <summary>The check of <see cref="CheckVocabulary(int)"/> for sequences read from <paramref name="source"/>.</summary>
    public static void CheckVocabulary(IEnumerable<TracedSequence> sequences, int vocabSize, string source)
    {
        foreach (var s in sequences)
            for (int p = 0; p < s.TokenIds.Length; p++)
                if ((uint)s.TokenIds[p] >= (uint)vocabSize)
                    throw new InvalidDataException($"'{source}': sequence {s.SequenceId} has token id {s.TokenIds[p]} at position {p}, outside the vocabulary of " +
                        $"{vocabSize} tokens (a trace of another model, or a damaged one); record the trace again with 'expertflow trace'");
    }
}
