using ExpertFlow.Model;
using Toolkit.Runtime.Safetensors;
using static TorchSharp.torch;

namespace ExpertFlow.Tests.Quantization;

/// <summary>
/// GPTQ and AWQ layouts packed and dequantized by the Python reference (tests/fixtures/python/make_quantized_fixtures.py,
/// numpy + torch): the loader's dequantized weight must equal the reference's. Skipped until the fixtures exist.
/// </summary>
public class QuantizedFixtureTests
{
    static string Root => Path.Combine(AppContext.BaseDirectory, "fixtures", "quantized");

    public static TheoryData<string> Cases() => new(["gptq_g64", "gptq_g32_act_order", "gptq_v2_g128", "awq_g64", "awq_g128"]);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Dequantizes_like_the_python_reference(string name)
    {
        string folder = Path.Combine(Root, name);
        Assert.SkipUnless(File.Exists(Path.Combine(folder, "model.safetensors")), $"fixture {name} absent (run tests/fixtures/python/make_quantized_fixtures.py tests/fixtures/quantized)");
        using var weights = PrequantizedWeights.Wrap(folder, new CheckpointWeights(SafetensorsCheckpoint.Open(folder)));
        Assert.IsType<PrequantizedWeights>(weights);
        using var expected = weights.Checkpoint!.Load("layer.expected", CPU, ScalarType.Float32);
        using var got = weights.Load("layer.weight", expected.shape, CPU, ScalarType.Float32);
        Assert.True(expected.allclose(got, 0, 0), $"{name}: differs by {(expected - got).abs().max().item<float>():g3}");
    }
}
