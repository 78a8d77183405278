using System.Diagnostics;
using ExpertFlow.Model;

namespace ExpertFlow.Scheduling;

/// <summary>
/// Greedy decoding of 2T sequences as two batches of T in flight, one after the other on the model's one
/// KV cache of 2T rows. A batch is a set of cache rows: each model step feeds tokens only to that batch's
/// rows (the others feed nothing, their cache and outputs stay as they are), so moving a sequence to the
/// other batch needs no KV copy: regrouping is a re-indexing of rows. With a <see cref="RowPathPredictor"/>
/// the token scheduler regroups the rows before every decode step so that each batch activates few experts;
/// without one (or with <c>regroup</c> false: predictions for the cache policy only) the batches stay in arrival order.
/// After a regrouping, the batch holding more of the rows that ran last goes second, so rows keep alternating and the
/// batch waiting while the other computes is the one that runs next (the cache policy prefetches for it). Each
/// sequence's computation does not depend on the rows beside it, so the output ids are the same either way.
/// <para>Pipelining (<c>overlap</c>): as soon as a batch has its tokens, the predictor forecasts those rows' next paths on a
/// worker thread while the other batch computes. The second batch's prediction then overlaps the next first batch's
/// step, unless the scheduler must regroup rows (batches of more than one row), which needs it first.</para>
/// </summary>
public static class DualBatchGenerator
{
    public static DualBatchResult Generate(IMoeModel model, IReadOnlyList<int[]> prompts, int maxNewTokens, RowPathPredictor? scheduler, bool overlap = false, bool regroup = true)
    {
        int rows = prompts.Count;
        if (rows < 2 || rows % 2 != 0) throw new ArgumentException($"dual-batch generation needs an even number (at least 2) of prompts; got {rows}");
        if (maxNewTokens < 1) throw new ArgumentException("max new tokens must be at least 1");
        int half = rows / 2;
        model.ResetCache(rows, prompts.Max(p => p.Length) + maxNewTokens);
        var counter = new ActivationCounter();
        model.Observers.Add(counter);
        try
        {
            var outputs = Enumerable.Range(0, rows).Select(_ => new List<int>()).ToArray();
            var next = new int[rows];
            var clock = Stopwatch.StartNew();
            int[] firstHalf = Enumerable.Range(0, half).ToArray(), secondHalf = Enumerable.Range(half, half).ToArray();
            foreach (var group in new[] { firstHalf, secondHalf }) RunBatch(model, group, rows, r => prompts[r], next);
            double prefill = clock.Elapsed.TotalSeconds;
            counter.Reset();
            clock.Restart();
            double schedulerSeconds = 0;   // on the critical path only
            for (int r = 0; r < rows; r++) outputs[r].Add(next[r]);
            var paths = new ExpertSet[rows];
            if (scheduler != null && maxNewTokens > 1)
                schedulerSeconds += Timed(() => Place(paths, Enumerable.Range(0, rows).ToArray(), scheduler.Predict(prompts, outputs)));
            int[] a = firstHalf, b = secondHalf;
            // Pipelined: the second batch's next paths, predicted on a worker thread while the next first batch computes.
            (int[] Rows, Task<ExpertSet[]> Paths)? pending = null;
            void CollectPending()
            {
                if (pending is not { } p) return;
                schedulerSeconds += Timed(() => Place(paths, p.Rows, p.Paths.GetAwaiter().GetResult()));
                pending = null;
            }
            for (int step = 1; step < maxNewTokens; step++)
            {
                if (scheduler != null && regroup)
                {
                    // Splitting on paths a token old undoes most of the scheduler's gain (measured), so the split waits for
                    // them, except between two single rows, where there is nothing to regroup.
                    if (half > 1) CollectPending();
                    int[] ranLast = b;
                    schedulerSeconds += Timed(() => (a, b) = Split(paths, ranLast));
                }
                // a row about to run needs its fresh prediction (the cache policy's forecast reuses it)
                if (pending is { } moved && a.Intersect(moved.Rows).Any()) CollectPending();
                bool predictNext = scheduler != null && step + 1 < maxNewTokens;
                RunBatch(model, a, rows, r => [next[r]], next);
                foreach (int r in a) outputs[r].Add(next[r]);
                CollectPending();
                // The first batch's next paths: on a worker thread while the second batch computes (or inline).
                Task<ExpertSet[]>? first = null;
                if (predictNext)
                {
                    var firstRows = a;
                    if (overlap) first = Task.Run(() => scheduler!.PredictRows(prompts, outputs, firstRows));
                    else schedulerSeconds += Timed(() => Place(paths, firstRows, scheduler!.PredictRows(prompts, outputs, firstRows)));
                }
                RunBatch(model, b, rows, r => [next[r]], next);
                foreach (int r in b) outputs[r].Add(next[r]);
                if (!predictNext) continue;
                var firstBatch = a;
                if (overlap)
                {
                    var secondRows = b;
                    pending = (secondRows, Task.Run(() => scheduler!.PredictRows(prompts, outputs, secondRows)));
                    schedulerSeconds += Timed(() => Place(paths, firstBatch, first!.GetAwaiter().GetResult()));
                }
                else schedulerSeconds += Timed(() => Place(paths, b, scheduler!.PredictRows(prompts, outputs, b)));
            }
            CollectPending(); // none is left in practice: the last step predicts nothing
            double decode = clock.Elapsed.TotalSeconds;
            return new DualBatchResult(outputs.Select(o => o.ToArray()).ToArray(), prefill, decode, outputs.Sum(o => o.Count), counter.MeanPerStepLayer, schedulerSeconds);
        }
        finally
        {
            model.Observers.Remove(counter);
        }
    }

    /// <summary>The scheduler's two batches, the one sharing fewer rows with <paramref name="ranLast"/> first.</summary>
    static (int[], int[]) Split(ExpertSet[] paths, int[] ranLast)
    {
        var split = TokenScheduler.Split(paths);
        return split.First.Intersect(ranLast).Count() > split.Second.Intersect(ranLast).Count()
            ? (split.Second, split.First) : (split.First, split.Second);
    }

    static void Place(ExpertSet[] paths, int[] rows, ExpertSet[] predicted)
    {
        for (int i = 0; i < rows.Length; i++) paths[rows[i]] = predicted[i];
    }

    static double Timed(Action action)
    {
        long start = Stopwatch.GetTimestamp();
        action();
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    static void RunBatch(IMoeModel model, int[] group, int rows, Func<int, int[]> feedOf, int[] next)
    {
        var feed = new int[rows][];
        for (int r = 0; r < rows; r++) feed[r] = [];
        foreach (int r in group) feed[r] = feedOf(r);
        using var logits = model.Step(feed);
        var picked = TokenSampler.Pick(logits, new SamplingOptions(), null);
        foreach (int r in group) next[r] = picked[r];
    }

    /// <summary>Distinct experts per (step, layer), averaged.</summary>
    sealed class ActivationCounter : IRoutingObserver
    {
        long total, count;
        public double MeanPerStepLayer => count == 0 ? 0 : (double)total / count;
        public void Reset() { total = 0; count = 0; }
        public void OnRouting(RoutingDecision decision)
        {
            total += decision.Experts.SelectMany(e => e).Distinct().Count();
            count++;
        }
    }
}
