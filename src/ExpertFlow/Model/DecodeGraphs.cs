using Microsoft.Extensions.Logging;
using Toolkit.Runtime.Cuda;
using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>
/// Decode steps replayed from CUDA graphs. An eager decode step issues ~1,700-2,400 small libtorch calls (each a
/// P/Invoke, a dispatch and a kernel launch), so at batch 1 the CPU, not the GPU, sets the pace; a graph replays the
/// same kernels with one launch. Per KV cache, the first eligible step runs eagerly and captures; later steps copy the
/// new token ids and positions into the graphs' input tensors and replay. The bodies read every per-step value from
/// those device tensors (see <see cref="MoeCausalLM.DecodeFixedShape"/>), so one capture serves every position.
/// </summary>
/// <remarks>
/// A step is <see cref="IStepBody.ExpertBreaks"/> + 1 graphs. With resident stacked experts there are no breaks: the
/// whole step is one graph. With offloaded experts, which experts to copy is only known once each layer's router has
/// run, so the step breaks at every MoE layer: segment j (one graph) ends at the router of the j-th MoE layer and
/// writes its routing into <see cref="Buffers"/>; the host reads it, the provider computes the experts eagerly and
/// writes their outputs for the next segment to combine. The graphs of a capture share one memory pool (they always
/// replay in capture order).
/// </remarks>
internal sealed class DecodeGraphs(ILogger log, int maxCaches) : IDisposable
{
    /// <summary>What one MoE layer's router segment hands to the eager expert part and the next segment.</summary>
    internal sealed class Buffers : IDisposable
    {
        public required Tensor Normed { get; init; }     // [R, H] router input
        public required Tensor Residual { get; init; }   // [R, H]
        public required Tensor Routing { get; init; }    // [R, k + g] int64: the chosen experts, then the look-ahead guess (read by the host at once)
        public required Tensor Experts { get; init; }    // [R, k] view of Routing
        public Tensor? Guess { get; init; }               // [R, g] view of Routing: the next MoE layer's guessed experts (null: g = 0)
        public required Tensor Weights { get; init; }    // [R, k]
        public Tensor? Shared { get; init; }              // [R, shared width]
        public required Tensor BySlot { get; init; }     // [R*k, H] expert outputs in (token, slot) order

        public void Dispose()
        {
            foreach (var t in new[] { Normed, Residual, Experts, Guess, Routing, Weights, Shared, BySlot }) t?.Dispose();
        }
    }

    /// <summary>The model's side of a captured step.</summary>
    internal interface IStepBody
    {
        /// <summary>MoE layers whose experts run eagerly between graphs (0: the whole step is one graph).</summary>
        int ExpertBreaks { get; }
        Buffers[] AllocateBuffers(int rows);
        /// <summary>Segment j on device tensors; writes <paramref name="buffers"/>[j] or, for the last one, returns fp32 logits [rows, V].</summary>
        Tensor? Segment(int j, Tensor ids, Tensor positions, Buffers[] buffers);
        /// <summary>The j-th break's experts: routing to the host, provider, outputs into buffers[j].BySlot.</summary>
        void Experts(int j, Buffers[] buffers);
    }

    sealed class Captured(KvCache cache, Tensor ids, Tensor positions, Buffers[] buffers) : IDisposable
    {
        public KvCache Cache { get; } = cache;
        public Tensor Ids { get; } = ids;
        public Tensor Positions { get; } = positions;
        public Buffers[] Moe { get; } = buffers;
        public readonly List<TorchCudaGraph> Graphs = [];
        public Tensor Logits = null!;

        public void Dispose()
        {
            foreach (var g in Graphs) g.Dispose();
            Logits?.Dispose();
            Ids.Dispose();
            Positions.Dispose();
            foreach (var b in Moe) b.Dispose();
        }
    }

    // a cache's graphs bake in its buffers' addresses; a few caches at a time (e.g. two batches in flight)
    readonly List<Captured> entries = [];

    /// <summary>Captures so far (one per KV cache in use).</summary>
    public int Captures { get; private set; }
    /// <summary>Steps served by replays.</summary>
    public long Replays { get; private set; }
    /// <summary>Why graphs were switched off after a failed capture; null while they work.</summary>
    public string? DisabledBecause { get; private set; }

    /// <summary>
    /// Runs one decode step with these per-row token ids and positions; null when graphs are off (the caller then
    /// runs the step eagerly). Returns fp32 logits [rows, V] owned by the caller.
    /// </summary>
    public Tensor? TryStep(KvCache cache, long[] ids, long[] positions, Device device, IStepBody body)
    {
        if (DisabledBecause != null) return null;
        entries.RemoveAll(e => { if (!e.Cache.IsDisposed) return false; e.Dispose(); return true; });
        var entry = entries.Find(e => e.Cache == cache);
        int breaks = body.ExpertBreaks;
        if (entry != null)
        {
            using (var scope = NewDisposeScope())
            {
                entry.Ids.copy_(tensor(ids, ScalarType.Int64));
                entry.Positions.copy_(tensor(positions, ScalarType.Int64));
            }
            for (int j = 0; j < breaks; j++)
            {
                entry.Graphs[j].Replay();
                body.Experts(j, entry.Moe);
            }
            entry.Graphs[breaks].Replay();
            entries.Remove(entry);
            entries.Add(entry); // most recently used last
            Replays++;
            return entry.Logits.clone();
        }

        if (!TorchCudaGraph.IsAvailable(out var why))
        {
            Disable(why);
            return null;
        }
        if (entries.Count >= maxCaches) { entries[0].Dispose(); entries.RemoveAt(0); }
        entry = new Captured(cache, tensor(ids, ScalarType.Int64, device).DetachFromDisposeScope(),
            tensor(positions, ScalarType.Int64, device).DetachFromDisposeScope(), body.AllocateBuffers(cache.Rows));
        Tensor? result = null;
        try
        {
            for (int j = 0; j <= breaks; j++)
            {
                int segment = j;
                entry.Graphs.Add(TorchCudaGraph.Capture(
                    warmUp: () =>
                    {
                        // this step's own values: the eager run of the segment (it also creates per-stream library state)
                        using var scope = NewDisposeScope();
                        if (body.Segment(segment, entry.Ids, entry.Positions, entry.Moe) is { } logits) result = logits.DetachFromDisposeScope();
                    },
                    capture: () =>
                    {
                        using var scope = NewDisposeScope();
                        if (body.Segment(segment, entry.Ids, entry.Positions, entry.Moe) is { } logits) entry.Logits = logits.DetachFromDisposeScope();
                    },
                    sharePoolWith: entry.Graphs.Count > 0 ? entry.Graphs[0] : null));
                if (j < breaks) body.Experts(j, entry.Moe);
            }
        }
        catch (Exception e)
        {
            entry.Dispose();
            result?.Dispose();
            Disable(e.Message);
            return null;
        }
        entries.Add(entry);
        Captures++;
        log.LogInformation("Captured {Count} CUDA graph(s) of the decode step ({Breaks} expert layers between them) for {Rows} rows x {Capacity} cached positions",
            breaks + 1, breaks, cache.Rows, cache.Capacity);
        return result;
    }

    void Disable(string why)
    {
        DisabledBecause = why;
        log.LogWarning("CUDA graphs off, decoding eagerly: {Why}", why);
    }

    /// <summary>Drops every captured graph; the next eligible step captures anew.</summary>
    public void Clear()
    {
        foreach (var e in entries) e.Dispose();
        entries.Clear();
    }

    public void Dispose() => Clear();
}
