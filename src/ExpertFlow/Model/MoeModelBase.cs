using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>
/// What the two model kinds (<see cref="MoeCausalLM"/>, <see cref="SwitchModel"/>) share: the configuration, the device
/// and dtype, the declared weights, the experts' catalog and provider, routing observers and the KV cache in use.
/// </summary>
public abstract class MoeModelBase : IMoeModel
{
    private protected readonly ParamSet ps = new();
    private protected readonly IWeightSource checkpoint;
    private protected KvCache? cache;

    private protected MoeModelBase(IWeightSource checkpoint, MoeConfig config, ModelLoadOptions options)
    {
        this.checkpoint = checkpoint;
        Config = config;
        Device = options.Device ?? CPU;
        DType = options.DType;
    }

    public MoeConfig Config { get; }
    public Device Device { get; }
    public ScalarType DType { get; }
    public ExpertCatalog Experts { get; private protected set; } = null!;
    public IExpertProvider ExpertProvider { get; private protected set; } = null!;
    public List<IRoutingObserver> Observers { get; } = [];
    public int[] CacheLengths => cache?.Lengths ?? [];
    public KvCache? Cache
    {
        get => cache;
        set => cache = value;
    }
    public long DenseBytes => ps.Bytes;
    public long CacheBytes => cache?.Bytes ?? 0;
    public bool UseCudaGraphs { get; set; }
    public abstract DecodeGraphStats GraphStats { get; }

    public abstract long KvCacheBytes(Workload workload);
    public abstract int[][] BeginSequences(IReadOnlyList<int[]> prompts, int[]? sequenceIds = null);
    public abstract void ResetCache(int rows, int capacity);
    public abstract Tensor Step(int[][] tokens, bool allPositions = false, int[]? sequenceIds = null);

    /// <summary>Bytes of a KV cache of <paramref name="layers"/> layers (keys and values) for the workload's rows and capacity.</summary>
    private protected long CacheBytesFor(int layers, int kvHeads, int headDim, Workload workload) =>
        2L * layers * workload.Rows * workload.Capacity * kvHeads * headDim * ExpertCatalog.DTypeSize(DType);

    /// <summary>Releases the model's own tensors (the base then releases the cache, the provider and the weight source).</summary>
    private protected abstract void ReleaseTensors();

    public void Dispose()
    {
        foreach (var p in ps.All) p.Value.Dispose();
        ReleaseTensors();
        cache?.Dispose();
        ExpertProvider?.Dispose();
        checkpoint.Dispose();
        GC.SuppressFinalize(this);
    }
}
