using System.Text.Json;

#pragma warning disable IDE1006

namespace ExpertFlow.Prediction;

/// <summary>Shape of the routing path predictor and of the model it predicts for.</summary>
public sealed record PredictorConfig
{
    public required int VocabSize { get; init; }
    public required int NumLayers { get; init; }
    public required int NumExperts { get; init; }
    public required int TopK { get; init; }
    public int ModelDim { get; init; } = 128;
    public int Heads { get; init; } = 4;
    public int EncoderLayers { get; init; } = 2;
    public int DecoderLayers { get; init; } = 2;
    public int FeedForwardDim { get; init; } = 256;
    public int MaxPositions { get; init; } = 256;
    /// <summary>The model the predictor was trained for (null in files written before it was recorded).</summary>
    public ModelIdentity? TrainedFor { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true });
    public static PredictorConfig FromJson(string json, string source)
    {
        PredictorConfig? config;
        try { config = JsonSerializer.Deserialize<PredictorConfig>(json); }
        catch (JsonException e) { throw new InvalidDataException($"{source}: not a predictor config ({e.Message.Split('.')[0]})"); }
        if (config is null || config.VocabSize < 1 || config.NumLayers < 1 || config.NumExperts < 1 || config.TopK < 1 || config.TopK > config.NumExperts
            || config.ModelDim < 1 || config.Heads < 1 || config.ModelDim % config.Heads != 0 || config.EncoderLayers < 0 || config.DecoderLayers < 1
            || config.FeedForwardDim < 1 || config.MaxPositions < 1)
            throw new InvalidDataException($"{source}: not a valid predictor config");
        return config;
    }

    /// <summary>Whether this predictor fits <paramref name="model"/>; the error says what differs and what to do.</summary>
    public void CheckFits(ModelIdentity model, string source)
    {
        bool fits = TrainedFor is { } trained ? trained == model
            : NumLayers == model.MoeLayers && NumExperts == model.Experts && TopK == model.TopK && VocabSize == model.VocabSize;
        if (!fits)
            throw new InvalidDataException($"the predictor in {source} was trained for {(TrainedFor?.ToString() ?? $"{NumLayers} MoE layers x {NumExperts} experts top-{TopK}, vocabulary {VocabSize}")}, " +
                $"not for this model ({model}); train one for it (expertflow train-predictor) or pick another policy");
    }
}
