using ExpertFlow.Model;

namespace ExpertFlow.Prediction;

/// <summary>What a predictor records about the model it was trained for; loading it for another model is an error.</summary>
public sealed record ModelIdentity(string ModelType, int MoeLayers, int Experts, int TopK, int VocabSize, int HiddenSize)
{
    public static ModelIdentity Of(IMoeModel model) => new(model.Config.ModelType, model.Experts.MoeLayers.Count, model.Experts.NumExperts,
        model.Config.TopK, model.Config.VocabSize, model.Config.HiddenSize);

    public override string ToString() =>
        $"{ModelType} with {MoeLayers} MoE layers x {Experts} experts top-{TopK}, hidden {HiddenSize}, vocabulary {VocabSize}";
}
