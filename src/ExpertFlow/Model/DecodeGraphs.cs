using Microsoft.Extensions.Logging;
using Toolkit.Runtime.Cuda;
using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>
/// Decode steps replayed from CUDA graphs. An eager decode step issues ~1,700-2,400 small libtorch calls (each a
/// P/Invoke, a dispatch and a kernel launch), so at batch 1 the CPU, not the GPU, sets the pace; a graph replays the
/// same kernels with one launch. Per KV cache, the first eligible step runs eagerly and captures a graph of the
/// fixed-shape step body; later steps copy the new token ids and positions into the graph's input tensors and
/// replay it. The body reads every per-step value from those device tensors (see
/// <see cref="MoeCausalLM.DecodeFixedShape"/>), so one graph serves every position of its cache.
/// </summary>
internal sealed class DecodeGraphs(ILogger log) : IDisposable
{
    sealed class Captured(KvCache cache, Tensor ids, Tensor positions) : IDisposable
    {
        public KvCache Cache { get; } = cache;
        public Tensor Ids { get; } = ids;
        public Tensor Positions { get; } = positions;
        public Tensor Logits = null!;
        public TorchCudaGraph? Graph;

        public void Dispose()
        {
            Graph?.Dispose();
            Logits?.Dispose();
            Ids.Dispose();
            Positions.Dispose();
        }
    }

    // a few caches at a time (e.g. two batches in flight); a cache's graph bakes in its buffers' addresses
    const int MaxGraphs = 4;
    readonly List<Captured> graphs = [];

    /// <summary>Graphs captured so far (one per cache shape in use).</summary>
    public int Captures { get; private set; }
    /// <summary>Steps served by a replay.</summary>
    public long Replays { get; private set; }
    /// <summary>Why graphs were switched off after a failed capture; null while they work.</summary>
    public string? DisabledBecause { get; private set; }

    /// <summary>
    /// Runs one decode step with these per-row token ids and positions; null when graphs are off (the caller then
    /// runs the step eagerly). Returns fp32 logits [rows, V] owned by the caller.
    /// </summary>
    public Tensor? TryStep(KvCache cache, long[] ids, long[] positions, Device device, Func<Tensor, Tensor, Tensor> body)
    {
        if (DisabledBecause != null) return null;
        graphs.RemoveAll(g => { if (!g.Cache.IsDisposed) return false; g.Dispose(); return true; });
        var entry = graphs.Find(g => g.Cache == cache);
        if (entry != null)
        {
            using (var scope = NewDisposeScope())
            {
                entry.Ids.copy_(tensor(ids, ScalarType.Int64));
                entry.Positions.copy_(tensor(positions, ScalarType.Int64));
            }
            entry.Graph!.Replay();
            graphs.Remove(entry);
            graphs.Add(entry); // most recently used last
            Replays++;
            return entry.Logits.clone();
        }

        if (!TorchCudaGraph.IsAvailable(out var why))
        {
            Disable(why);
            return null;
        }
        if (graphs.Count >= MaxGraphs) { graphs[0].Dispose(); graphs.RemoveAt(0); }
        entry = new Captured(cache, tensor(ids, ScalarType.Int64, device).DetachFromDisposeScope(),
            tensor(positions, ScalarType.Int64, device).DetachFromDisposeScope());
        Tensor? result = null;
        try
        {
            entry.Graph = TorchCudaGraph.Capture(
                warmUp: () =>
                {
                    // this step's own result: the eager run of the body (it also creates per-stream library state)
                    using var scope = NewDisposeScope();
                    result = body(entry.Ids, entry.Positions).DetachFromDisposeScope();
                },
                capture: () =>
                {
                    using var scope = NewDisposeScope();
                    entry.Logits = body(entry.Ids, entry.Positions).DetachFromDisposeScope();
                });
        }
        catch (Exception e)
        {
            entry.Dispose();
            result?.Dispose();
            Disable(e.Message);
            return null;
        }
        graphs.Add(entry);
        Captures++;
        log.LogInformation("Captured a CUDA graph of the decode step for {Rows} rows x {Capacity} cached positions", cache.Rows, cache.Capacity);
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
        foreach (var g in graphs) g.Dispose();
        graphs.Clear();
    }

    public void Dispose() => Clear();
}
