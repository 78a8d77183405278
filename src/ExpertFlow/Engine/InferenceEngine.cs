using ExpertFlow.Model;
using ExpertFlow.Offloading;
using ExpertFlow.Prediction;

namespace ExpertFlow.Engine;

/// <summary>
/// A model ready for generation: loaded with its experts resident or offloaded (the memory plan sized for the
/// workload), the routing-path predictor attached when the policy forecasts, the tokenizer when the folder has one.
/// The entry point the command line and the server go through.
/// </summary>
public sealed class InferenceEngine : IDisposable
{
    readonly OffloadedModel? offloaded;

    InferenceEngine(EngineOptions options, IMoeModel model, OffloadedModel? offloaded, ModelTokenizer? tokenizer)
    {
        Options = options;
        Model = model;
        this.offloaded = offloaded;
        Tokenizer = tokenizer;
    }

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
        var load = new ModelLoadOptions { Device = options.Device, DType = options.ComputeDType, CudaGraphs = options.CudaGraphs, Log = options.Log };
        if (options.Offload is not { } offload) return new InferenceEngine(options, MoeModels.Load(options.ModelFolder, load), null, tokenizer);
        var services = new OffloadServices { Log = options.Log, Forecast = offload.Policy.NeedsForecast ? Forecast(options) : null };
        var model = OffloadedModel.Load(options.ModelFolder, load, offload, workload, services);
        return new InferenceEngine(options, model.Model, model, tokenizer);
    }

    /// <summary>The routing-path predictor of the model as PLEC's forecast (it reads token ids only and stays on the CPU).</summary>
    static PredictorForecast Forecast(EngineOptions options)
    {
        var identity = ModelIdentity.Of(MoeConfig.Load(options.ModelFolder));
        if (!File.Exists(Path.Combine(options.PredictorPath, PredictorTrainer.ConfigFile)))
            throw new FileNotFoundException($"the expertflow policy needs a routing-path predictor and '{options.PredictorPath}' holds none; " +
                $"train one for this model (expertflow train-predictor) or pick another policy", options.PredictorPath);
        return new PredictorForecast(PredictorTrainer.Load(options.PredictorPath, identity));
    }

    /// <summary>Generates for a batch of prompts (token ids) with one KV cache.</summary>
    public GenerationResult Generate(IReadOnlyList<int[]> prompts, GenerationOptions options, CancellationToken cancel = default) =>
        Generation.Generate(Model, prompts, options, cancel);

    /// <summary>Closes the offloading engine's last step and returns its statistics (null when every expert is resident).</summary>
    public OffloadStats? FinishOffload()
    {
        Offload?.Finish();
        return Offload?.Stats;
    }

    public void Dispose() => Model.Dispose();
}
