using ExpertFlow.Demo;
using ExpertFlow.Prediction;
using Toolkit.Data.Text;

namespace ExpertFlow.Tests.Prediction;

/// <summary>
/// A tiny demo Mixtral (2 layers x 8 experts top-2, vocabulary 300) saved as a Hugging Face folder, deleted on Dispose,
/// and a predictor of the matching shape. Weights come from the current torch seed: seed first.
/// </summary>
sealed class TinyDemo : IDisposable
{
    public const int Vocabulary = 300;

    public string Folder { get; } = Path.Combine(Path.GetTempPath(), $"tiny-demo-{Guid.NewGuid():N}");

    public TinyDemo()
    {
        var config = new DemoMoeConfig { VocabSize = Vocabulary, HiddenSize = 32, IntermediateSize = 48, NumLayers = 2, NumHeads = 4, NumKeyValueHeads = 2, NumExperts = 8, TopK = 2, MaxPositions = 64 };
        using var demo = new DemoMixtral(config);
        DemoCheckpoint.Save(Folder, demo, Gpt2SubsetTokenizer.Build(["x"], Vocabulary));
    }

    /// <summary>An untrained routing-path predictor for this model.</summary>
    public static RoutingPathPredictor Predictor() =>
        new(new PredictorConfig { VocabSize = Vocabulary, NumLayers = 2, NumExperts = 8, TopK = 2, ModelDim = 32, Heads = 2, FeedForwardDim = 64, MaxPositions = 64 });

    public void Dispose()
    {
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { }
    }
}
