using ExpertFlow.Model;

namespace ExpertFlow.Prediction;

/// <summary>What a predictor records about the model it was trained for; loading it for another model is an error.</summary>
public sealed record ModelIdentity(string ModelType, int MoeLayers, int Experts, int TopK, int VocabSize, int HiddenSize)
{
    public static ModelIdentity Of(IMoeModel model) => Of(model.Config);

    /// <summary>The identity read from a configuration alone (before the weights are loaded).</summary>
    public static ModelIdentity Of(MoeConfig config) => new(config.ModelType, config.MoeLayerCount,
        config.NumExperts, config.TopK, config.VocabSize, config.HiddenSize);

    public override string ToString() =>
        $"{ModelType} with {MoeLayers} MoE layers x {Experts} experts top-{TopK}, hidden {HiddenSize}, vocabulary {VocabSize}";
}
