using ExpertFlow.Model;

namespace ExpertFlow.Tests.Model;

public class GenerationTests
{
    [Fact]
    public void Sampling_is_reproducible_by_seed_and_top_k_1_is_greedy()
    {
        Fixtures.Cpu();
        using var model = MoeModels.Load(Fixtures.Folder("qwen3_moe"));
        var c = Fixtures.Cases("qwen3_moe")[0];
        int[] Sample(SamplingOptions s) => Generation.Generate(model, [c.InputIds], new GenerationOptions { MaxNewTokens = 12, StopTokens = [], Sampling = s }, TestContext.Current.CancellationToken).OutputIds[0];
        var a = Sample(new SamplingOptions { Greedy = false, Temperature = 1.5, Seed = 3 });
        var b = Sample(new SamplingOptions { Greedy = false, Temperature = 1.5, Seed = 3 });
        var other = Sample(new SamplingOptions { Greedy = false, Temperature = 1.5, Seed = 4 });
        Assert.Equal(a, b);
        Assert.NotEqual(a, other);
        Assert.NotEqual(c.Greedy[..12], a); // temperature 1.5 over 320 tokens does not follow argmax for 12 tokens
        Assert.Equal(c.Greedy[..12], Sample(new SamplingOptions { Greedy = false, TopK = 1, Seed = 9 }));
        Assert.Equal(c.Greedy[..12], Sample(new SamplingOptions { Greedy = false, TopP = 1e-6, Seed = 9 }));
        Assert.Throws<ArgumentException>(() => Sample(new SamplingOptions { Greedy = false, Temperature = 0 }));
    }

    [Fact]
    public void Stop_tokens_end_a_sequence_and_streaming_sees_every_token()
    {
        Fixtures.Cpu();
        using var model = MoeModels.Load(Fixtures.Folder("mixtral"));
        var cases = Fixtures.Cases("mixtral");
        int stop = cases[0].Greedy[3];
        var streamed = new List<(int, int)>();
        var result = Generation.Generate(model, [cases[0].InputIds, cases[1].InputIds],
            new GenerationOptions { MaxNewTokens = 16, StopTokens = [stop], OnToken = (s, t) => streamed.Add((s, t)) }, TestContext.Current.CancellationToken);
        int firstStop = Array.IndexOf(cases[0].Greedy, stop);
        Assert.Equal(cases[0].Greedy[..(firstStop + 1)], result.OutputIds[0]);
        int otherStop = Array.IndexOf(cases[1].Greedy, stop);
        Assert.Equal(otherStop < 0 ? cases[1].Greedy : cases[1].Greedy[..(otherStop + 1)], result.OutputIds[1]);
        Assert.Equal(result.OutputIds[0], streamed.Where(x => x.Item1 == 0).Select(x => x.Item2));
        Assert.Equal(result.OutputIds[1], streamed.Where(x => x.Item1 == 1).Select(x => x.Item2));
    }

    [Fact]
    public void Tokenizer_json_matches_the_hugging_face_tokenizer()
    {
        var check = Fixtures.TokenizerCheck("qwen2_moe")!.Value;
        var tok = ModelTokenizer.Load(Fixtures.Folder("qwen2_moe"));
        Assert.Equal(check.Ids, tok.Encode(check.Text));
        Assert.Equal(check.Text, tok.Decode(check.Ids));
        Assert.Equal([0], tok.Encode("<|endoftext|>"));
        Assert.Throws<FileNotFoundException>(() => ModelTokenizer.Load(Fixtures.Folder("switch_transformers")));
    }

    [Fact]
    public void Config_reading_covers_each_familys_layer_layout()
    {
        Assert.Equal([true, false, true], MoeConfig.Load(Fixtures.Folder("qwen2_moe")).MoeLayers);
        var ds = MoeConfig.Load(Fixtures.Folder("deepseek"));
        Assert.Equal([false, true, true], ds.MoeLayers); // first_k_dense_replace 1
        Assert.Equal(24, ds.SharedExpertIntermediateSize); // 2 shared experts of 12
        var sw = MoeConfig.Load(Fixtures.Folder("switch_transformers"));
        Assert.Equal([false, true], sw.MoeLayers); // sparse step 2: block 1
        Assert.Equal([false, true], sw.DecoderMoeLayers);
        Assert.Equal(QkNormKind.Full, MoeConfig.Load(Fixtures.Folder("olmoe")).QkNorm);
        Assert.Equal(QkNormKind.PerHead, MoeConfig.Load(Fixtures.Folder("qwen3_moe")).QkNorm);
        // transformers 4 spelling (rope_theta at top level) reads the same as transformers 5's rope_parameters
        var legacy = System.Text.Json.JsonDocument.Parse("""{"model_type":"mixtral","vocab_size":10,"hidden_size":8,"num_hidden_layers":1,"num_attention_heads":2,"num_key_value_heads":1,"intermediate_size":4,"num_local_experts":2,"num_experts_per_tok":1,"rope_theta":5000.0}""");
        Assert.Equal(5000.0, MoeConfig.Parse(legacy.RootElement).RopeTheta);
    }
}

public class DTypeTests
{
    [Theory]
    [InlineData("bf16")]
    [InlineData("fp16")]
    public void Half_precision_weights_stay_close_to_fp32(string dtype)
    {
        Fixtures.Cpu();
        var c = Fixtures.Cases("qwen2_moe")[0];
        using var model = MoeModels.Load(Fixtures.Folder("qwen2_moe"), new ModelLoadOptions { DType = MoeModels.ParseDType(dtype) });
        Assert.Equal(MoeModels.ParseDType(dtype), model.DType);
        model.ResetCache(1, 16);
        using var logits = model.Step([c.InputIds]);
        var row = Fixtures.Row(logits);
        var reference = c.PrefillLogits[^1];
        double scale = reference.Max(Math.Abs);
        // half precision through 3 layers: a few percent of the logit range, and the same top token
        Assert.True(Fixtures.MaxAbsDiff(row, reference) < 0.05 * scale, $"{dtype} differs by {Fixtures.MaxAbsDiff(row, reference)} (scale {scale})");
        Assert.Equal(Array.IndexOf(reference, reference.Max()), Array.IndexOf(row, row.Max()));
    }
}

[Trait("Category", "GPU")]
public class GpuGenerationTests
{
    [Fact]
    public void Sampling_and_half_precision_run_on_the_gpu()
    {
        Fixtures.Cpu();
        Assert.SkipUnless(TorchSharp.torch.cuda.is_available(), "no CUDA device");
        var cuda = new TorchSharp.torch.Device(TorchSharp.DeviceType.CUDA, 0);
        var c = Fixtures.Cases("qwen2_moe")[0];
        using var model = MoeModels.Load(Fixtures.Folder("qwen2_moe"), new ModelLoadOptions { Device = cuda, DType = TorchSharp.torch.ScalarType.BFloat16 });
        var sampled = Generation.Generate(model, [c.InputIds, c.InputIds], new GenerationOptions
        {
            MaxNewTokens = 8, StopTokens = [], Sampling = new SamplingOptions { Greedy = false, Temperature = 0.9, TopK = 50, TopP = 0.95, Seed = 5 },
        }, TestContext.Current.CancellationToken);
        Assert.All(sampled.OutputIds, o => Assert.Equal(8, o.Length));
        var greedy = Generation.Generate(model, [c.InputIds], new GenerationOptions { MaxNewTokens = 4, StopTokens = [] }, TestContext.Current.CancellationToken);
        Assert.Equal(c.Greedy[0], greedy.OutputIds[0][0]); // bf16 keeps the first greedy token of this well-separated fixture
    }
}
