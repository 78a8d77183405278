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

    /// <summary>
    /// Parameters of a <see cref="RoutingPathPredictor"/> of this shape (embeddings, blocks, norms, heads), computed without
    /// building it; checked arithmetic (an absurd shape throws OverflowException).
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public long ParameterCount
    {
        get
        {
            checked
            {
                long d = ModelDim, f = FeedForwardDim;
                long block = 4 * d * d + 2 * d * f + 9 * d + f;          // self-attention, feed-forward, two norms
                long cross = 4 * d * d + 6 * d;                          // cross-attention and its norm
                return (long)VocabSize * d + 2L * MaxPositions * d + EncoderLayers * block + DecoderLayers * (block + cross)
                    + 4 * d + (long)NumLayers * (d * NumExperts + NumExperts);
            }
        }
    }

    public string ToJson() => JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true });
    /// <summary>Largest vocabulary, width or position count accepted from a file (larger ones are damage).</summary>
    public const int MaxSize = 1 << 24;
    /// <summary>Largest layer, head or expert count accepted from a file.</summary>
    public const int MaxCount = 65535;

    /// <summary>
    /// Reads predictor_config.json; anything but a complete, consistent configuration is an InvalidDataException naming
    /// <paramref name="source"/> and the field.
    /// </summary>
    public static PredictorConfig FromJson(string json, string source)
    {
        const string remedy = "train the predictor again with 'expertflow train-predictor'";
        PredictorConfig? config;
        try { config = JsonSerializer.Deserialize<PredictorConfig>(json); }
        catch (JsonException e)
        {
            string where = e.Path is { Length: > 1 } p ? $" at {p}" : "";
            throw new InvalidDataException($"{source} is not a predictor config: {Reason(e)}{where} (line {e.LineNumber + 1}); {remedy}", e);
        }
        if (config is null) throw new InvalidDataException($"{source} is not a predictor config: it holds null; {remedy}");
        string? problem = config.Problem();
        if (problem != null) throw new InvalidDataException($"{source} is not a valid predictor config: {problem}; {remedy}");
        return config;
    }

    /// <summary>What System.Text.Json found wrong, without its path and position suffix.</summary>
    static string Reason(JsonException e)
    {
        string first = e.Message.Split('\n')[0];
        int cut = first.IndexOf(" Path:", StringComparison.Ordinal);
        if (cut < 0) cut = first.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return (cut > 0 ? first[..cut] : first).TrimEnd('.', ' ', '|');
    }

    /// <summary>The first inconsistency, or null.</summary>
    string? Problem()
    {
        static bool In(int value, int min, int max) => value >= min && value <= max;
        if (!In(VocabSize, 1, MaxSize)) return $"VocabSize {VocabSize} is outside 1..{MaxSize}";
        if (!In(NumLayers, 1, MaxCount)) return $"NumLayers {NumLayers} is outside 1..{MaxCount}";
        if (!In(NumExperts, 1, MaxCount)) return $"NumExperts {NumExperts} is outside 1..{MaxCount}";
        if (!In(TopK, 1, NumExperts)) return $"TopK {TopK} is outside 1..NumExperts ({NumExperts})";
        if (!In(ModelDim, 1, MaxSize) || !In(Heads, 1, MaxCount) || ModelDim % Heads != 0) return $"ModelDim {ModelDim} is not a positive multiple of Heads {Heads}";
        if (!In(EncoderLayers, 0, MaxCount)) return $"EncoderLayers {EncoderLayers} is outside 0..{MaxCount}";
        if (!In(DecoderLayers, 1, MaxCount)) return $"DecoderLayers {DecoderLayers} is outside 1..{MaxCount}";
        if (!In(FeedForwardDim, 1, MaxSize)) return $"FeedForwardDim {FeedForwardDim} is outside 1..{MaxSize}";
        if (!In(MaxPositions, 1, MaxSize)) return $"MaxPositions {MaxPositions} is outside 1..{MaxSize}";
        try { _ = ParameterCount; }
        catch (OverflowException) { return "its sizes multiply to more parameters than a 64-bit count holds"; }
        return null;
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
