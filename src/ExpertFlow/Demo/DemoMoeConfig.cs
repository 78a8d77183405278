using System.Text.Json;
using System.Text.Json.Nodes;

namespace ExpertFlow.Demo;

/// <summary>Shape of the Mixtral-style demo model; serialised as a Hugging Face <c>config.json</c> (model_type mixtral).</summary>
public sealed record DemoMoeConfig
{
    public int VocabSize { get; init; } = 8192;
    public int HiddenSize { get; init; } = 128;
    public int IntermediateSize { get; init; } = 256;
    public int NumLayers { get; init; } = 4;
    public int NumHeads { get; init; } = 4;
    public int NumKeyValueHeads { get; init; } = 2;
    public int NumExperts { get; init; } = 8;
    public int TopK { get; init; } = 2;
    public int MaxPositions { get; init; } = 512;
    public double RopeTheta { get; init; } = 10000;
    public double RmsNormEps { get; init; } = 1e-5;
    public double RouterAuxLossCoef { get; init; } = 0.02;

    public int HeadDim => HiddenSize / NumHeads;

    /// <summary>Number of parameters (fp32 bytes = 4x).</summary>
    public long ParameterCount()
    {
        long attention = (long)HiddenSize * HeadDim * (2 * NumHeads + 2 * NumKeyValueHeads);
        long experts = (long)NumExperts * 3 * HiddenSize * IntermediateSize;
        long perLayer = attention + experts + (long)NumExperts * HiddenSize + 2 * HiddenSize;
        return NumLayers * perLayer + 2L * VocabSize * HiddenSize + HiddenSize;
    }

    /// <summary>The Hugging Face config.json text for this shape.</summary>
    public string ToHuggingFaceJson()
    {
        var json = new JsonObject
        {
            ["architectures"] = new JsonArray("MixtralForCausalLM"),
            ["model_type"] = "mixtral",
            ["vocab_size"] = VocabSize,
            ["hidden_size"] = HiddenSize,
            ["intermediate_size"] = IntermediateSize,
            ["num_hidden_layers"] = NumLayers,
            ["num_attention_heads"] = NumHeads,
            ["num_key_value_heads"] = NumKeyValueHeads,
            ["head_dim"] = HeadDim,
            ["num_local_experts"] = NumExperts,
            ["num_experts_per_tok"] = TopK,
            ["max_position_embeddings"] = MaxPositions,
            ["rope_theta"] = RopeTheta,
            ["rms_norm_eps"] = RmsNormEps,
            ["router_aux_loss_coef"] = RouterAuxLossCoef,
            ["output_router_logits"] = false,
            ["hidden_act"] = "silu",
            ["tie_word_embeddings"] = false,
            ["sliding_window"] = null,
            ["attention_dropout"] = 0.0,
            ["initializer_range"] = 0.02,
            ["bos_token_id"] = 0,
            ["eos_token_id"] = 0,
            ["pad_token_id"] = 0,
            ["torch_dtype"] = "float32",
            ["use_cache"] = true,
        };
        return json.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Reads the fields this model uses from a Hugging Face config.json.</summary>
    public static DemoMoeConfig FromHuggingFaceJson(string text, string source)
    {
        var node = JsonNode.Parse(text) as JsonObject ?? throw new InvalidDataException($"{source}: not a JSON object");
        if ((string?)node["model_type"] != "mixtral") throw new InvalidDataException($"{source}: model_type must be \"mixtral\" for the demo model");
        int Int(string key) => node[key]?.GetValue<int>() ?? throw new InvalidDataException($"{source}: missing \"{key}\"");
        double Dbl(string key, double fallback) => node[key]?.GetValue<double>() ?? fallback;
        return new DemoMoeConfig
        {
            VocabSize = Int("vocab_size"), HiddenSize = Int("hidden_size"), IntermediateSize = Int("intermediate_size"),
            NumLayers = Int("num_hidden_layers"), NumHeads = Int("num_attention_heads"), NumKeyValueHeads = Int("num_key_value_heads"),
            NumExperts = Int("num_local_experts"), TopK = Int("num_experts_per_tok"), MaxPositions = Int("max_position_embeddings"),
            RopeTheta = Dbl("rope_theta", 1e6), RmsNormEps = Dbl("rms_norm_eps", 1e-5), RouterAuxLossCoef = Dbl("router_aux_loss_coef", 0.001),
        };
    }
}
