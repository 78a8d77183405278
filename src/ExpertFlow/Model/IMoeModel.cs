using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>
/// What generation needs from a model: a KV cache for a batch of rows, prefill of prompts, one decode step.
/// Implemented by the decoder-only families (<see cref="MoeCausalLM"/>) and Switch (<see cref="SwitchModel"/>).
/// </summary>
public interface IMoeModel : IDisposable
{
    MoeConfig Config { get; }
    Device Device { get; }
    ScalarType DType { get; }
    ExpertCatalog Experts { get; }
    IExpertProvider ExpertProvider { get; }
    List<IRoutingObserver> Observers { get; }

    /// <summary>Allocates (or reuses) the cache for <paramref name="rows"/> sequences of up to <paramref name="capacity"/> positions.</summary>
    void ResetCache(int rows, int capacity);

    /// <summary>
    /// Runs one step: row r appends <paramref name="tokens"/>[r] (may be empty) to its cached sequence. Returns fp32
    /// logits [rows, V] at each row's last new token (rows without tokens: zeros), or, with <paramref name="allPositions"/>,
    /// [rows, maxNew, V].
    /// </summary>
    Tensor Step(int[][] tokens, bool allPositions = false, int[]? sequenceIds = null);

    /// <summary>Positions held per row.</summary>
    int[] CacheLengths { get; }

    /// <summary>
    /// The KV cache in use (decoder self-attention for Switch). Swap it to run several batches on one model
    /// (e.g. two batches in flight); build merged/reindexed caches with <see cref="KvCache.Gather"/>. Setting does not
    /// dispose the previous cache (whoever swaps caches owns the ones swapped out); <see cref="ResetCache"/> reuses or
    /// replaces (and disposes) the cache held at that moment, and the model disposes the one it holds at the end.
    /// </summary>
    KvCache? Cache { get; set; }

    /// <summary>Bytes of the non-expert weights on the compute device.</summary>
    long DenseBytes { get; }

    /// <summary>Bytes of the KV cache in use (0 without one).</summary>
    long CacheBytes { get; }

    /// <summary>
    /// Bytes the caches of <paramref name="workload"/> take on the device: the KV cache <see cref="ResetCache"/> would
    /// allocate for it, plus (Switch) the encoder state of its prompts.
    /// </summary>
    long KvCacheBytes(Workload workload);

    /// <summary>
    /// Starts a batch of sequences: returns the first step's tokens per row (decoder-only: the prompts; Switch runs the
    /// encoder over the prompts and returns the decoder start token). Call <see cref="ResetCache"/> after it.
    /// </summary>
    int[][] BeginSequences(IReadOnlyList<int[]> prompts, int[]? sequenceIds = null);

    /// <summary>Replay eligible decode steps from CUDA graphs (CUDA only; see <see cref="ModelLoadOptions.CudaGraphs"/>).</summary>
    bool UseCudaGraphs { get; set; }

    /// <summary>CUDA graph use so far.</summary>
    DecodeGraphStats GraphStats { get; }
}
