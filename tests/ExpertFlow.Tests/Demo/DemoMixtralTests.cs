using ExpertFlow.Model;
using ExpertFlow.Demo;
using ExpertFlow.Tracing;
using Toolkit.Data.Text;
using Toolkit.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace ExpertFlow.Tests.Demo;

public class DemoMixtralTests
{
    static readonly DemoMoeConfig Tiny = new()
    {
        VocabSize = 300, HiddenSize = 32, IntermediateSize = 48, NumLayers = 2, NumHeads = 4, NumKeyValueHeads = 2, NumExperts = 4, TopK = 2, MaxPositions = 64,
    };

    public DemoMixtralTests() => LibTorch.EnsureLoaded();

    [Fact]
    public void Parameter_names_are_mixtral_checkpoint_keys()
    {
        using var model = new DemoMixtral(Tiny);
        var keys = model.state_dict().Keys.ToHashSet();
        Assert.Contains("model.embed_tokens.weight", keys);
        Assert.Contains("model.layers.1.self_attn.k_proj.weight", keys);
        Assert.Contains("model.layers.0.block_sparse_moe.gate.weight", keys);
        Assert.Contains("model.layers.1.block_sparse_moe.experts.3.w2.weight", keys);
        Assert.Contains("model.layers.0.post_attention_layernorm.weight", keys);
        Assert.Contains("model.norm.weight", keys);
        Assert.Contains("lm_head.weight", keys);
        Assert.Equal(Tiny.ParameterCount(), model.parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void Save_load_round_trip_gives_identical_logits_and_routing()
    {
        manual_seed(1);
        using var model = new DemoMixtral(Tiny);
        var tokenizer = Gpt2SubsetTokenizer.Build(["a tiny corpus"], 300);
        string dir = Path.Combine(Path.GetTempPath(), $"demo-{Guid.NewGuid():N}");
        try
        {
            DemoCheckpoint.Save(dir, model, tokenizer);
            var (loaded, loadedTokenizer) = DemoCheckpoint.Load(dir);
            Assert.Equal(tokenizer.Gpt2Ids, loadedTokenizer.Gpt2Ids);
            using var ids = randint(0, 300, [2, 10]);
            using var noGrad = no_grad();
            var a = model.forward(ids);
            var b = loaded.forward(ids);
            Assert.Equal(0.0, (a - b).abs().max().item<float>());
            // The runtime loads the folder like any Mixtral, and its traces are the trainer's own routing.
            using var runtime = MoeModels.Load(dir);
            var traces = ModelTracer.Trace(runtime, [[1, 2, 3, 4, 5], [7, 8, 9]], maxLength: 8);
            Assert.Equal([5, 3], traces.Select(t => t.Length));
            Assert.All(traces.SelectMany(t => t.Experts), e => Assert.Equal(Tiny.NumLayers * Tiny.TopK, e.Length));
            var capture = new List<(Tensor Ids, Tensor Logits)>();
            loaded.Forward(tensor(new long[] { 1, 2, 3, 4, 5 }, [1, 5]), capture, out _);
            for (int layer = 0; layer < Tiny.NumLayers; layer++)
            {
                var chosen = capture[layer].Ids.cpu().data<long>().ToArray();
                for (int p = 0; p < 5; p++)
                    Assert.Equal(chosen.Skip(p * Tiny.TopK).Take(Tiny.TopK).Select(x => (short)x), traces[0].Experts[p].Skip(layer * Tiny.TopK).Take(Tiny.TopK));
            }
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Causal_prefix_logits_do_not_depend_on_later_tokens()
    {
        manual_seed(2);
        using var model = new DemoMixtral(Tiny);
        using var noGrad = no_grad();
        var full = model.forward(tensor(new long[] { 5, 6, 7, 8, 9 }, [1, 5]));
        var prefix = model.forward(tensor(new long[] { 5, 6, 7 }, [1, 3]));
        Assert.True((full.narrow(1, 0, 3) - prefix).abs().max().item<float>() < 1e-5f);
    }

    [Fact]
    public void Training_lowers_loss_and_keeps_routing_balanced()
    {
        manual_seed(3);
        var tokenizer = Gpt2SubsetTokenizer.Build(["the cat sat on the mat and the dog sat on the log"], 300);
        var text = string.Concat(Enumerable.Repeat("the cat sat on the mat and the dog sat on the log. ", 40));
        var stream = tokenizer.Encode(text);
        var corpus = new DemoCorpus { Tokenizer = tokenizer, TrainStream = stream, TrainEntries = [stream], HeldOutEntries = [stream[..40]] };
        using var model = new DemoMixtral(Tiny);
        string dir = Path.Combine(Path.GetTempPath(), $"demo-train-{Guid.NewGuid():N}");
        try
        {
            var logger = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
            var result = new DemoTrainer(logger).Train(model, corpus, new DemoTrainingOptions { Steps = 40, BatchSize = 4, SequenceLength = 24, WarmupSteps = 5, CheckpointEvery = 20 }, dir, cancellation: TestContext.Current.CancellationToken);
            Assert.True(result.Losses.Skip(30).Average() < result.Losses.Take(5).Average() - 1.0, $"loss did not fall: {result.Losses[0]:F2} -> {result.Losses[^1]:F2}");
            Assert.True(File.Exists(Path.Combine(dir, "loss.png")));
            Assert.True(File.Exists(Path.Combine(dir, DemoCheckpoint.WeightsFile)));
            Assert.All(result.ExpertShare, s => Assert.True(s > 0.02, $"an expert gets only {s:P1} of the routed slots"));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void A_time_limit_stops_training_and_saves_the_model_as_it_is()
    {
        manual_seed(4);
        var tokenizer = Gpt2SubsetTokenizer.Build(["the cat sat on the mat"], 300);
        var stream = tokenizer.Encode(string.Concat(Enumerable.Repeat("the cat sat on the mat. ", 40)));
        var corpus = new DemoCorpus { Tokenizer = tokenizer, TrainStream = stream, TrainEntries = [stream], HeldOutEntries = [stream[..40]] };
        using var model = new DemoMixtral(Tiny);
        string dir = Path.Combine(Path.GetTempPath(), $"demo-limit-{Guid.NewGuid():N}");
        try
        {
            var options = new DemoTrainingOptions { Steps = 100_000, BatchSize = 2, SequenceLength = 16, CheckpointEvery = 1_000_000, TimeLimit = TimeSpan.FromMilliseconds(300) };
            var result = new DemoTrainer(Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance).Train(model, corpus, options, dir,
                cancellation: TestContext.Current.CancellationToken);
            Assert.InRange(result.Losses.Count, 1, 99_999);
            var (reloaded, _) = DemoCheckpoint.Load(dir);   // the final model was written although the planned steps were not run
            reloaded.Dispose();
            Assert.Equal(result.Losses.Count, File.ReadAllLines(Path.Combine(dir, "training_log.csv")).Length - 1);
        }
        finally { Directory.Delete(dir, true); }
    }
}
