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

    public string ToJson() => JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true });
    public static PredictorConfig FromJson(string json, string source) =>
        JsonSerializer.Deserialize<PredictorConfig>(json) ?? throw new InvalidDataException($"{source}: not a predictor config");
}
