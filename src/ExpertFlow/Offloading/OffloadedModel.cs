using ExpertFlow.Model;

namespace ExpertFlow.Offloading;

/// <summary>
/// A model whose experts are offloaded: loading attaches an <see cref="OffloadingExpertProvider"/>, plans the memory
/// budget from the loaded model's footprint for the workload (<see cref="DeviceFootprint.Of"/>), starts the engine and
/// lets it observe the model's routing. Disposing disposes the model (and with it the provider).
/// </summary>
public sealed class OffloadedModel : IDisposable
{
    OffloadedModel(IMoeModel model, OffloadingExpertProvider provider)
    {
        Model = model;
        Provider = provider;
    }

    public IMoeModel Model { get; }
    public OffloadingExpertProvider Provider { get; }
    public MemoryPlan Plan => Provider.Plan;

    /// <summary>Loads a model folder with its experts offloaded as <paramref name="offload"/> says, sized for <paramref name="workload"/>.</summary>
    public static OffloadedModel Load(string folder, ModelLoadOptions load, OffloadOptions offload, Workload workload, OffloadServices? services = null) =>
        Build(provider => MoeModels.Load(folder, load with { Experts = provider }), offload, workload, services);

    /// <summary>Builds a decoder-only model from any weight source (e.g. random weights for benchmarks) with offloaded experts.</summary>
    public static OffloadedModel Create(MoeConfig config, IWeightSource weights, ModelLoadOptions load, OffloadOptions offload, Workload workload, OffloadServices? services = null) =>
        Build(provider => MoeCausalLM.Create(config, weights, load with { Experts = provider }), offload, workload, services);

    static OffloadedModel Build(Func<OffloadingExpertProvider, IMoeModel> load, OffloadOptions offload, Workload workload, OffloadServices? services)
    {
        var provider = new OffloadingExpertProvider(offload, services);
        IMoeModel model;
        try { model = load(provider); }
        catch
        {
            provider.Dispose();
            throw;
        }
        try
        {
            provider.Start(DeviceFootprint.Of(model, workload));
            model.Observers.Add(provider);
            return new OffloadedModel(model, provider);
        }
        catch
        {
            model.Dispose(); // disposes the provider too
            throw;
        }
    }

    public void Dispose() => Model.Dispose();
}
