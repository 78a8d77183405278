using ExpertFlow.Model;

namespace ExpertFlow.Tracing;

/// <summary>
/// Records the routing of any decoder-only model over token sequences with the runtime's own forward pass: each batch
/// of equally long sequences is one prefill step (no padding enters the routing) observed by a <see cref="RoutingRecorder"/>.
/// </summary>
public static class ModelTracer
{
    /// <summary>Sequences traced per forward pass.</summary>
    public const int BatchSize = 32;

    /// <summary>
    /// Runs the model over each sequence (cut to <paramref name="maxLength"/> tokens; empty ones skipped) and returns
    /// their routing; sequence i gets id <paramref name="firstSequenceId"/> + i. <paramref name="progress"/> counts
    /// sequences done.
    /// </summary>
    public static List<TracedSequence> Trace(IMoeModel model, IReadOnlyList<int[]> sequences, int maxLength, int firstSequenceId = 0, IProgress<int>? progress = null)
    {
        if (maxLength < 1) throw new ArgumentException($"the traced length must be at least 1 token (got {maxLength})");
        var recorder = new RoutingRecorder(model);
        var traced = new List<TracedSequence>(sequences.Count);
        model.Observers.Add(recorder);
        try
        {
            int done = 0;
            var groups = Enumerable.Range(0, sequences.Count).Where(i => sequences[i].Length > 0).GroupBy(i => Math.Min(sequences[i].Length, maxLength));
            foreach (var group in groups)
                foreach (var chunk in group.Chunk(BatchSize))
                {
                    int length = group.Key;
                    var tokens = chunk.Select(i => sequences[i][..length]).ToArray();
                    model.ResetCache(chunk.Length, length);
                    using (model.Step(tokens, sequenceIds: chunk.Select(i => firstSequenceId + i).ToArray())) { }
                    traced.AddRange(recorder.Take());
                    done += chunk.Length;
                    progress?.Report(done);
                }
        }
        finally
        {
            model.Observers.Remove(recorder);
        }
        return traced.OrderBy(t => t.SequenceId).ToList();
    }
}
