using ExpertFlow.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace ExpertFlow.Tests.Demo;

/// <summary>The committed demo model (models/demo-moe, the README's main command) loads, tokenises and predicts English.</summary>
public class EmbeddedDemoModelTests
{
    static string Folder => Path.Combine(AppContext.BaseDirectory, "models", "demo-moe");

    [Fact]
    public void Tokenizer_round_trips_text_through_the_subset_vocabulary()
    {
        var tokenizer = ModelTokenizer.Load(Folder);
        const string text = "The horse is a large animal, with hoofs; see Equus.<|endoftext|>";
        int[] ids = tokenizer.Encode(text);
        Assert.All(ids, id => Assert.InRange(id, 0, 4095));
        Assert.Equal(0, ids[^1]); // <|endoftext|> is model id 0
        Assert.Equal(text, tokenizer.Decode(ids));
    }

    [Fact]
    public void Predicts_dictionary_text_far_better_than_chance()
    {
        Toolkit.Runtime.LibTorch.EnsureLoaded();
        using var model = MoeModels.Load(Folder, new ModelLoadOptions { Device = CPU });
        var tokenizer = ModelTokenizer.Load(Folder);
        int[] ids = tokenizer.Encode("A domestic animal of the genus Felis, kept as a pet and to catch mice and rats.");
        model.ResetCache(1, ids.Length + 1);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var logits = model.Step([ids], allPositions: true)[0]; // [S, V]
        var targets = tensor(ids[1..].Select(i => (long)i).ToArray());
        double nll = nn.functional.cross_entropy(logits[..^1], targets).item<float>();
        // uniform guessing costs ln(4096) = 8.3 nats; the trained model's held-out loss is about 3.5
        Assert.True(nll < 5.5, $"mean next-token loss {nll:F2} nats: the demo model did not load as trained");
    }

    [Fact]
    public void Quality_score_equals_the_runtime_loss_on_the_same_text()
    {
        Toolkit.Runtime.LibTorch.EnsureLoaded();
        const string text = "A domestic animal of the genus Felis, kept as a pet and to catch mice and rats.";
        var tokenizer = ModelTokenizer.Load(Folder);
        int[] ids = tokenizer.Encode(text);
        using var model = MoeModels.Load(Folder, new ModelLoadOptions { Device = CPU });
        model.ResetCache(1, ids.Length + 1);
        double runtime;
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            var logits = model.Step([ids], allPositions: true)[0];
            runtime = nn.functional.cross_entropy(logits[..^1], tensor(ids[1..].Select(i => (long)i).ToArray())).item<float>();
        }
        var (training, trainingTokenizer) = ExpertFlow.Demo.DemoCheckpoint.Load(Folder);
        using (training)
        {
            var (loss, tokens) = ExpertFlow.Evaluation.DemoQuality.Score(training, [trainingTokenizer.Encode(text)], maxLength: 128);
            Assert.Equal(ids.Length - 1, tokens);
            Assert.Equal(runtime, loss, 3);
        }
    }
}
