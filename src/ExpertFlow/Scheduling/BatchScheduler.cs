using System.Collections.Concurrent;
using System.Diagnostics;
using ExpertFlow.Model;

namespace ExpertFlow.Scheduling;

/// <summary>
/// Continuous batching over one KV cache of <see cref="Rows"/> rows: sequences join (a prefill step for the newly
/// admitted ones) and leave (their row is freed) between steps, each decode step feeds every running sequence one
/// token. With a <see cref="RowPathPredictor"/>, ExpertFlow's token scheduler regroups the running sequences before
/// every decode round into two batches that activate few distinct experts (<see cref="TokenScheduler"/>), and the two
/// run one after the other as two row sets of the same cache (no KV copy), as the paper's dual-batch pipeline does.
/// A row's computation does not depend on the rows beside it, so each sequence's tokens are those it would get alone.
/// Single-threaded: <see cref="Enqueue"/> is thread-safe, everything else runs on the thread that calls <see cref="Step"/>.
/// </summary>
public sealed class BatchScheduler : IDisposable
{
    readonly IMoeModel model;
    readonly RowPathPredictor? paths;
    readonly ConcurrentQueue<Pending> waiting = new();
    readonly Running?[] rows;
    readonly int capacity;
    readonly int[][] promptOf;
    readonly List<int>[] generatedOf;
    readonly Stopwatch clock = Stopwatch.StartNew();
    readonly int maxPrefillTokens;
    readonly KvCache full;
    readonly Dictionary<int, KvCache> views = [];   // the cache's first 1, 2, 4, ... rows

    /// <param name="model">The model; its KV cache is reset to <paramref name="rows"/> x <paramref name="capacity"/>.</param>
    /// <param name="rows">Sequences in flight at most.</param>
    /// <param name="capacity">Positions per sequence (prompt plus new tokens).</param>
    /// <param name="paths">Predicted paths for two-batch regrouping (null: one batch of all running sequences).</param>
    /// <param name="maxPrefillTokens">Prompt tokens one prefill step admits at most (at least one sequence always joins): bounds a step's activations.</param>
    public BatchScheduler(IMoeModel model, int rows, int capacity, RowPathPredictor? paths = null, int maxPrefillTokens = int.MaxValue)
    {
        this.maxPrefillTokens = maxPrefillTokens;
        if (rows < 1) throw new ArgumentException($"the scheduler needs at least one sequence slot (got {rows})");
        if (capacity < 2) throw new ArgumentException($"each sequence needs at least two positions (got {capacity})");
        this.model = model;
        this.paths = paths;
        this.capacity = capacity;
        this.rows = new Running?[rows];
        promptOf = Enumerable.Repeat(Array.Empty<int>(), rows).ToArray();
        generatedOf = Enumerable.Range(0, rows).Select(_ => new List<int>()).ToArray();
        model.ResetCache(rows, capacity);
        full = model.Cache!;
    }

    public int Rows => rows.Length;
    /// <summary>Positions per sequence (prompt plus new tokens).</summary>
    public int Capacity => capacity;
    /// <summary>Sequences queued, not yet admitted.</summary>
    public int Waiting => waiting.Count;
    /// <summary>Sequences holding a row.</summary>
    public int RunningCount => rows.Count(r => r != null);
    /// <summary>Whether anything is queued or running.</summary>
    public bool Busy => !waiting.IsEmpty || rows.Any(r => r != null);
    /// <summary>Decode steps run so far and new tokens produced.</summary>
    public long DecodeSteps { get; private set; }
    public long GeneratedTokens { get; private set; }
    /// <summary>Seconds spent predicting paths and splitting batches (on the critical path).</summary>
    public double SchedulerSeconds { get; private set; }

    /// <summary>Queues a sequence; the task completes when it ends. Thread-safe.</summary>
    public Task<SequenceResult> Enqueue(SequenceRequest request)
    {
        if (request.Prompt.Length == 0) throw new ArgumentException("a prompt needs at least one token");
        if (request.MaxNewTokens < 1) throw new ArgumentException($"new tokens must be at least 1 (got {request.MaxNewTokens})");
        if (request.Prompt.Length + request.MaxNewTokens > capacity)
            throw new ArgumentException($"the prompt ({request.Prompt.Length} tokens) plus {request.MaxNewTokens} new tokens needs {request.Prompt.Length + request.MaxNewTokens} positions; a sequence holds at most {capacity}");
        request.Sampling.Validate();
        var pending = new Pending(request, new TaskCompletionSource<SequenceResult>(TaskCreationOptions.RunContinuationsAsynchronously), clock.Elapsed.TotalSeconds);
        waiting.Enqueue(pending);
        return pending.Done.Task;
    }

    /// <summary>Runs steps until nothing is queued or running.</summary>
    public void RunUntilIdle()
    {
        while (Busy) Step();
    }

    /// <summary>
    /// One round: drop cancelled sequences, admit queued ones into free rows (one prefill step), then one decode step
    /// for every running sequence (two half-steps with regrouping). Returns false when there was nothing to do.
    /// </summary>
    public bool Step()
    {
        for (int r = 0; r < rows.Length; r++)
            if (rows[r] is { } s && s.Request.Cancellation.IsCancellationRequested) Finish(r, FinishReason.Cancelled);
        var admitted = Admit();
        if (admitted.Count > 0) Prefill(admitted);
        var active = Enumerable.Range(0, rows.Length).Where(r => rows[r] is { Prefilled: true }).ToArray();
        if (active.Length == 0) return admitted.Count > 0;
        foreach (var group in Groups(active))
            if (group.Length > 0) Decode(group);
        DecodeSteps++;
        return true;
    }

    List<int> Admit()
    {
        var admitted = new List<int>();
        int tokens = 0;
        for (int r = 0; r < rows.Length && !waiting.IsEmpty; r++)
        {
            if (rows[r] != null) continue;
            while (waiting.TryPeek(out var next) && (admitted.Count == 0 || tokens + next.Request.Prompt.Length <= maxPrefillTokens) && waiting.TryDequeue(out var p))
            {
                if (p.Request.Cancellation.IsCancellationRequested)
                {
                    p.Done.TrySetResult(new SequenceResult([], FinishReason.Cancelled, clock.Elapsed.TotalSeconds - p.Queued, 0, clock.Elapsed.TotalSeconds - p.Queued));
                    continue;
                }
                rows[r] = new Running(p.Request, p.Done, p.Queued, new TorchSharp.torch.Generator((ulong)p.Request.Sampling.Seed, TorchSharp.torch.CPU));
                model.Cache!.Lengths[r] = 0;
                promptOf[r] = p.Request.Prompt;
                generatedOf[r].Clear();
                admitted.Add(r);
                tokens += p.Request.Prompt.Length;
                break;
            }
        }
        return admitted;
    }

    /// <summary>
    /// Ends every queued and running sequence with <paramref name="error"/> (after a step failed: the cache may be in any state)
    /// and frees all rows.
    /// </summary>
    public void FailAll(Exception error)
    {
        for (int r = 0; r < rows.Length; r++)
        {
            if (rows[r] is not { } s) continue;
            rows[r] = null;
            promptOf[r] = [];
            generatedOf[r].Clear();
            s.Generator.Dispose();
            s.Done.TrySetException(error);
        }
        while (waiting.TryDequeue(out var p)) p.Done.TrySetException(error);
        model.Cache?.Clear();
    }

    void Prefill(List<int> admitted)
    {
        using var logits = Run(admitted, r => rows[r]!.Request.Prompt);
        foreach (int r in admitted)
        {
            rows[r]!.Prefilled = true;
            Take(r, logits);
        }
    }

    void Decode(int[] group)
    {
        using var logits = Run(group, r => [rows[r]!.Tokens[^1]]);
        foreach (int r in group) Take(r, logits);
    }

    /// <summary>
    /// One model step feeding <paramref name="feedOf"/> to the rows of <paramref name="group"/>, over the fewest leading
    /// rows of the cache (a power of two) that hold every row in use: at low load a step computes a few rows, not all of
    /// them (each row count has its own CUDA graph). Returns the logits, one row per cache row of the view.
    /// </summary>
    TorchSharp.torch.Tensor Run(IReadOnlyCollection<int> group, Func<int, int[]> feedOf)
    {
        int used = Enumerable.Range(0, rows.Length).Where(r => rows[r] != null).DefaultIfEmpty(0).Max() + 1;
        int width = Math.Min(rows.Length, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)used));
        var feed = new int[width][];
        for (int r = 0; r < width; r++) feed[r] = group.Contains(r) ? feedOf(r) : [];
        if (width == rows.Length) return model.Step(feed, sequenceIds: Enumerable.Range(0, width).ToArray());
        if (!views.TryGetValue(width, out var view)) views[width] = view = full.FirstRows(width);
        KvCache.CopyLengths(full, view);
        model.Cache = view;
        try { return model.Step(feed, sequenceIds: Enumerable.Range(0, width).ToArray()); }
        finally
        {
            KvCache.CopyLengths(view, full);
            model.Cache = full;
        }
    }

    public void Dispose()
    {
        foreach (var view in views.Values) view.Dispose();
        views.Clear();
    }

    /// <summary>Row <paramref name="r"/>'s next token from the step's logits; ends the sequence when it should.</summary>
    void Take(int r, TorchSharp.torch.Tensor logits)
    {
        var s = rows[r]!;
        int token;
        using (var row = logits.narrow(0, r, 1))
            token = TokenSampler.Pick(row, s.Request.Sampling, s.Request.Sampling.Greedy ? null : s.Generator, [s.Request.Prompt.Concat(s.Tokens)])[0];
        if (s.Tokens.Count == 0) s.FirstToken = clock.Elapsed.TotalSeconds;
        s.Tokens.Add(token);
        generatedOf[r].Add(token);
        GeneratedTokens++;
        s.Request.OnToken?.Invoke(token);
        if (s.Request.StopTokens.Contains(token) || s.Request.Ended?.Invoke(s.Tokens) == true) Finish(r, FinishReason.Stop);
        else if (s.Tokens.Count >= s.Request.MaxNewTokens) Finish(r, FinishReason.Length);
    }

    void Finish(int r, FinishReason reason)
    {
        var s = rows[r]!;
        rows[r] = null;
        model.Cache!.Lengths[r] = 0; // the row is free; its positions are overwritten by the next sequence
        promptOf[r] = [];
        generatedOf[r].Clear();
        s.Generator.Dispose();
        double now = clock.Elapsed.TotalSeconds;
        s.Done.TrySetResult(new SequenceResult(s.Tokens.ToArray(), reason, s.Queued, s.FirstToken > 0 ? s.FirstToken - s.Queued : 0, now - s.Queued));
    }

    /// <summary>The running rows as one batch, or as the token scheduler's two batches when paths are predicted.</summary>
    IEnumerable<int[]> Groups(int[] active)
    {
        if (paths == null || active.Length < 2)
        {
            yield return active;
            yield break;
        }
        var watch = Stopwatch.StartNew();
        var predicted = paths.PredictRows(promptOf, generatedOf, active);
        // an odd count gets an empty path as a stand-in, dropped after the split
        var sets = active.Length % 2 == 0 ? predicted : [.. predicted, new ExpertSet(predicted[0].NumLayers, predicted[0].NumExperts)];
        var split = TokenScheduler.Split(sets);
        int[] first = split.First.Where(i => i < active.Length).Select(i => active[i]).ToArray();
        int[] second = split.Second.Where(i => i < active.Length).Select(i => active[i]).ToArray();
        SchedulerSeconds += watch.Elapsed.TotalSeconds;
        if (first.Length > 0) yield return first;
        if (second.Length > 0)
        {
            // a sequence of the first half may have ended; the second half runs with the rest
            yield return second.Where(r => rows[r] != null).ToArray();
        }
    }

    sealed record Pending(SequenceRequest Request, TaskCompletionSource<SequenceResult> Done, double Queued);

    sealed class Running(SequenceRequest request, TaskCompletionSource<SequenceResult> done, double queued, TorchSharp.torch.Generator generator)
    {
        public SequenceRequest Request { get; } = request;
        public TaskCompletionSource<SequenceResult> Done { get; } = done;
        public double Queued { get; } = queued;
        public TorchSharp.torch.Generator Generator { get; } = generator;
        public List<int> Tokens { get; } = [];
        public bool Prefilled { get; set; }
        public double FirstToken { get; set; }
    }
}
