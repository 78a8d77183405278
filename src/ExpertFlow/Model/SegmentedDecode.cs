using Microsoft.Extensions.Logging;
using Toolkit.Runtime.Cuda;
using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>
/// Decode steps of a model whose experts are not resident (an offloading provider): the work between two expert
/// computations runs as a CUDA graph, the experts themselves eagerly. With offloaded experts a step cannot be one
/// graph, because which experts to copy is only known once each layer's router has run; but everything else (the
/// previous layer's weighted expert sum and shared expert, the residual, the next attention, norms and router) has
/// fixed shapes, and issuing it eagerly costs ~1 ms of host time per layer, on the critical path between two layers'
/// copies. Segment j (one graph) ends at the router of the j-th MoE layer; the last segment produces the logits.
/// Segments exchange values through buffers allocated once per KV cache (<see cref="Buffers"/>): the router writes
/// experts, weights, normed input, residual and shared activation; the eager part reads the experts on the host,
/// runs them through the provider and writes their outputs for the next segment to combine. All graphs of a cache
/// share one memory pool (they always replay in capture order).
/// </summary>
internal sealed class SegmentedDecode(ILogger log) : IDisposable
{
    /// <summary>What one MoE layer's router segment hands to the eager expert part and the next segment.</summary>
    internal sealed class Buffers : IDisposable
    {
        public required Tensor Normed { get; init; }     // [R, H] router input
        public required Tensor Residual { get; init; }   // [R, H]
        public required Tensor Experts { get; init; }    // [R, k] int64
        public required Tensor Weights { get; init; }    // [R, k]
        public Tensor? Shared { get; init; }              // [R, shared width]
        public required Tensor BySlot { get; init; }     // [R*k, H] expert outputs in (token, slot) order

        public void Dispose()
        {
            foreach (var t in new[] { Normed, Residual, Experts, Weights, Shared, BySlot }) t?.Dispose();
        }
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

    const int MaxCaches = 2;
    readonly List<Captured> entries = [];

    public int Captures { get; private set; }
    public long Replays { get; private set; }
    public string? DisabledBecause { get; private set; }

    /// <summary>The model's side: buffers for a cache, one segment's body, one MoE layer's eager expert part.</summary>
    internal interface IModel
    {
        int MoeLayerCount { get; }
        Buffers[] AllocateBuffers(int rows);
        /// <summary>Segment j on device tensors; writes <paramref name="buffers"/>[j] or, for the last one, returns fp32 logits.</summary>
        Tensor? Segment(int j, Tensor ids, Tensor positions, Buffers[] buffers);
        /// <summary>The j-th MoE layer's experts: routing to the host, provider, outputs into buffers[j].BySlot.</summary>
        void Experts(int j, Buffers[] buffers);
    }

    /// <summary>Runs one decode step (one token per row); null when graphs are off. Returns fp32 logits [rows, V].</summary>
    public Tensor? TryStep(KvCache cache, long[] ids, long[] positions, Device device, IModel model)
    {
        if (DisabledBecause != null) return null;
        entries.RemoveAll(e => { if (!e.Cache.IsDisposed) return false; e.Dispose(); return true; });
        var entry = entries.Find(e => e.Cache == cache);
        int segments = model.MoeLayerCount;
        if (entry != null)
        {
            using (var scope = NewDisposeScope())
            {
                entry.Ids.copy_(tensor(ids, ScalarType.Int64));
                entry.Positions.copy_(tensor(positions, ScalarType.Int64));
            }
            for (int j = 0; j < segments; j++)
            {
                entry.Graphs[j].Replay();
                model.Experts(j, entry.Moe);
            }
            entry.Graphs[segments].Replay();
            Replays++;
            return entry.Logits.clone();
        }

        if (!TorchCudaGraph.IsAvailable(out var why))
        {
            Disable(why);
            return null;
        }
        if (entries.Count >= MaxCaches) { entries[0].Dispose(); entries.RemoveAt(0); }
        entry = new Captured(cache, tensor(ids, ScalarType.Int64, device).DetachFromDisposeScope(),
            tensor(positions, ScalarType.Int64, device).DetachFromDisposeScope(), model.AllocateBuffers(cache.Rows));
        Tensor? result = null;
        try
        {
            for (int j = 0; j <= segments; j++)
            {
                int segment = j;
                entry.Graphs.Add(TorchCudaGraph.Capture(
                    warmUp: () =>
                    {
                        // this step's own values: the eager run of the segment (it also creates per-stream library state)
                        using var scope = NewDisposeScope();
                        if (model.Segment(segment, entry.Ids, entry.Positions, entry.Moe) is { } logits) result = logits.DetachFromDisposeScope();
                    },
                    capture: () =>
                    {
                        using var scope = NewDisposeScope();
                        if (model.Segment(segment, entry.Ids, entry.Positions, entry.Moe) is { } logits) entry.Logits = logits.DetachFromDisposeScope();
                    },
                    sharePoolWith: entry.Graphs.Count > 0 ? entry.Graphs[0] : null));
                if (j < segments) model.Experts(j, entry.Moe);
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
        log.LogInformation("Captured {Count} CUDA graphs of the decode step between expert layers for {Rows} rows x {Capacity} cached positions (shared pool: {Shared})",
            segments + 1, cache.Rows, cache.Capacity, TorchCudaGraph.CanSharePools);
        return result;
    }

    void Disable(string why)
    {
        DisabledBecause = why;
        log.LogWarning("Segmented CUDA graphs off, decoding eagerly: {Why}", why);
    }

    public void Clear()
    {
        foreach (var e in entries) e.Dispose();
        entries.Clear();
    }

    public void Dispose() => Clear();
}
