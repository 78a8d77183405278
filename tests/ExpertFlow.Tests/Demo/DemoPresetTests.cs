using ExpertFlow.Demo;

namespace ExpertFlow.Tests.Demo;

public class DemoPresetTests
{
    [Fact]
    public void The_large_preset_is_the_billion_parameter_evaluation_model()
    {
        var large = DemoPreset.Parse("LARGE");
        long parameters = large.Config.ParameterCount();
        Assert.InRange(parameters, 1_000_000_000L, 1_250_000_000L);
        Assert.Equal(16, large.Config.NumExperts);
        Assert.Equal(8, large.Config.NumLayers);
        Assert.True(large.MaxMinutes is > 0 and < 10, "the large preset must finish within 10 minutes");
    }

    [Fact]
    public void The_small_preset_is_the_embedded_demo_model_shape()
    {
        var embedded = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "models", "demo-moe", "config.json"))).RootElement;
        var small = DemoPreset.Parse("small").Config;
        Assert.Equal(embedded.GetProperty("hidden_size").GetInt32(), small.HiddenSize);
        Assert.Equal(embedded.GetProperty("num_local_experts").GetInt32(), small.NumExperts);
        Assert.Equal(embedded.GetProperty("num_hidden_layers").GetInt32(), small.NumLayers);
    }

    [Fact]
    public void An_unknown_preset_names_the_known_ones()
    {
        var error = Assert.Throws<ArgumentException>(() => DemoPreset.Parse("huge"));
        Assert.Contains("small, large", error.Message);
    }
}
