using ExpertFlow.Model;
using ExpertFlow.Offloading;
using ExpertFlow.Prediction;
using ExpertFlow.Scheduling;

namespace ExpertFlow.Engine;

/// <summary>
/// A model ready for generation: loaded with its experts resident or offloaded (the memory plan sized for the
/// workload), the routing-path predictor attached when the policy forecasts, the tokenizer when the folder has one.
/// The entry point the command line and the server go through.
/// </summary>
public sealed class InferenceEngine : IDisposable
{
    readonly OffloadedModel? offloaded;

    readonly RoutingPathPredictor? predictor;
    // the predictor run incrementally, shared by PLEC's forecast and the token scheduler
    readonly IncrementalPredictor? paths;

    InferenceEngine(EngineOptions options, IMoeModel model, OffloadedModel? offloaded, ModelTokenizer? tokenizer, RoutingPathPredictor? predictor, IncrementalPredictor? paths)
    {
        Options = options;
        Model = model;
        this.offloaded = offloaded;
        Tokenizer = tokenizer;
        this.predictor = predictor;
        this.paths = paths;
        GenerationConfig = ExpertFlow.Model.GenerationConfig.Load(options.ModelFolder);
    }

    /// <summary>The folder's generation_config.json (decoding defaults and stop ids), or null.</summary>
    public GenerationConfig? GenerationConfig { get; }

    /// <summary>The ids that end a sequence: generation_config.json's, else config.json's.</summary>
    public IReadOnlyList<int> StopTokenIds => ExpertFlow.Model.GenerationConfig.StopIds(GenerationConfig, Model.Config);

    public EngineOptions Options { get; }
    public IMoeModel Model { get; }
    /// <summary>The model folder's tokenizer as the caller loaded it, or null (token ids only).</summary>
    public ModelTokenizer? Tokenizer { get; }
    /// <summary>The offloading engine, or null when every expert is resident.</summary>
    public OffloadingExpertProvider? Offload => offloaded?.Provider;

    /// <summary>
    /// Loads the model of <paramref name="options"/>, sized for <paramref name="workload"/>; <paramref name="tokenizer"/>
    /// is the folder's tokenizer when the caller has loaded it (prompts are encoded before the workload is known).
    /// </summary>
    public static InferenceEngine Load(EngineOptions options, Workload workload, ModelTokenizer? tokenizer = null)
    {
        if (!Directory.Exists(options.ModelFolder)) throw new DirectoryNotFoundException($"model folder '{options.ModelFolder}' does not exist");
        MoeModels.FusedCudaKernels = options.FusedKernels;
        var load = new ModelLoadOptions { Device = options.Device, DType = options.ComputeDType, CudaGraphs = options.CudaGraphs, Log = options.Log, ExpertFormat = options.ExpertFormat };
        GenerationConfig.Load(options.ModelFolder); // a malformed generation_config.json fails before the weights load
        if (options.Offload is not { } offload) return new InferenceEngine(options, MoeModels.Load(options.ModelFolder, load), null, tokenizer, null, null);
        var predictor = offload.Policy.NeedsForecast ? LoadPredictor(options) : null;
        var paths = predictor == null ? null : new IncrementalPredictor(predictor);
        try
        {
            var forecast = paths == null ? null : new PredictorForecast(paths);
            var model = OffloadedModel.Load(options.ModelFolder, load, offload, workload, new OffloadServices { Log = options.Log, Forecast = forecast });
            return new InferenceEngine(options, model.Model, model, tokenizer, predictor, paths);
        }
        catch
        {
            paths?.Dispose();
            predictor?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The routing-path predictor of the model. It reads token ids only and stays on the CPU, whatever the model's device:
    /// run incrementally with managed decode steps (<see cref="IncrementalPredictor"/>) a token costs tens of microseconds
    /// of one host core, less than queueing its ~80 small kernels on the GPU.
    /// </summary>
    static RoutingPathPredictor LoadPredictor(EngineOptions options)
    {
        var identity = ModelIdentity.Of(MoeConfig.Load(options.ModelFolder));
        if (!File.Exists(Path.Combine(options.PredictorPath, PredictorTrainer.ConfigFile)))
            throw new FileNotFoundException($"the expertflow policy needs a routing-path predictor and '{options.PredictorPath}' holds none; " +
                $"train one for this model (expertflow train-predictor) or pick another policy", options.PredictorPath);
        return PredictorTrainer.Load(options.PredictorPath, identity);
    }

    /// <summary>
    /// A continuous-batching scheduler over this model for up to <paramref name="rows"/> sequences of
    /// <paramref name="capacity"/> positions. With the expertflow policy the token scheduler regroups the running sequences
    /// into two batches by their predicted paths, and its predictions feed PLEC's forecast too (one predictor pass a step).
    /// </summary>
    public BatchScheduler CreateScheduler(int rows, int capacity, int maxPrefillTokens = int.MaxValue) =>
        new(Model, rows, capacity, paths == null ? null : new RowPathPredictor(paths), maxPrefillTokens);

    /// <summary>Generates for a batch of prompts (token ids) with one KV cache.</summary>
    public GenerationResult Generate(IReadOnlyList<int[]> prompts, GenerationOptions options, CancellationToken cancel = default) =>
        Generation.Generate(Model, prompts, options, cancel);

    /// <summary>Closes the offloading engine's last step and returns its statistics (null when every expert is resident).</summary>
    public OffloadStats? FinishOffload()
    {
        Offload?.Finish();
        return Offload?.Stats;
    }

    public void Dispose()
    {
        Model.Dispose();
        paths?.Dispose();
        predictor?.Dispose();
    }
}
