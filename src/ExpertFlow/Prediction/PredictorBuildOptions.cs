using ExpertFlow.Tracing;
using static TorchSharp.torch;

namespace ExpertFlow.Prediction;

/// <summary>How <see cref="PredictorBuilder"/> makes a routing-path predictor for a model.</summary>
public sealed record PredictorBuildOptions
{
    /// <summary>The model folder (any supported decoder-only family).</summary>
    public required string ModelFolder { get; init; }
    /// <summary>Where traces, weights, loss curve and report go (default MODEL/predictor).</summary>
    public string? OutputFolder { get; init; }
    /// <summary>The corpus to trace (see <c>TextCorpus</c>); null: the model's recorded split, else gcide.</summary>
    public string? Corpus { get; init; }
    public int TraceEntries { get; init; } = 12000;
    public int GeneratedEntries { get; init; } = 4000;
    /// <summary>Tokens per traced sequence (longer texts are cut).</summary>
    public int MaxLength { get; init; } = 64;
    /// <summary>Reuse the traces already in the output folder instead of tracing again.</summary>
    public bool ReuseTraces { get; init; }
    /// <summary>Predictor width (heads: width / 32, feed-forward: 2 x width).</summary>
    public int Dim { get; init; } = 128;
    public PredictorTrainingOptions Training { get; init; } = new() { Steps = 6000 };
    /// <summary>Where the model runs while tracing and the predictor while training.</summary>
    public Device Device { get; init; } = CPU;

    public string OutputPath => OutputFolder ?? Path.Combine(ModelFolder, "predictor");

    /// <summary>The traces' options for this build.</summary>
    public TraceSetOptions Tracing => new(CorpusSplit.For(ModelFolder, Corpus), TraceEntries, MaxLength, GeneratedEntries);

    public void Validate()
    {
        if (TraceEntries < 1) throw new ArgumentException($"traced texts must be at least 1 (got {TraceEntries})");
        if (GeneratedEntries < 0) throw new ArgumentException($"generated continuations cannot be negative (got {GeneratedEntries})");
        if (MaxLength < TraceSetOptions.GeneratedPromptTokens + 1) throw new ArgumentException($"the traced length must be at least {TraceSetOptions.GeneratedPromptTokens + 1} tokens (got {MaxLength})");
        if (Dim < 32 || Dim % 32 != 0) throw new ArgumentException($"the predictor width must be a positive multiple of 32 (got {Dim})");
        if (Training.Steps < 1 || Training.BatchSize < 1) throw new ArgumentException("training needs at least one step of at least one example");
    }
}
