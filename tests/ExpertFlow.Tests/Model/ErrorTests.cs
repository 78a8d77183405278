using System.Text.Json.Nodes;
using ExpertFlow.Model;
using Toolkit.Runtime.Safetensors;
using TorchSharp;

namespace ExpertFlow.Tests.Model;

/// <summary>Bad input gives errors that name the file, tensor or option.</summary>
public class ErrorTests
{
    static string CopyFixture(string family, Action<JsonObject>? editConfig = null)
    {
        string dir = Directory.CreateTempSubdirectory("ef-fixture-").FullName;
        foreach (var f in Directory.GetFiles(Fixtures.Folder(family))) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        if (editConfig != null)
        {
            var json = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!.AsObject();
            editConfig(json);
            File.WriteAllText(Path.Combine(dir, "config.json"), json.ToJsonString());
        }
        return dir;
    }

    static void RewriteWeights(string dir, Func<string, torch.Tensor, torch.Tensor?> change)
    {
        string path = Path.Combine(dir, "model.safetensors");
        var tensors = new List<KeyValuePair<string, torch.Tensor>>();
        using (var ck = SafetensorsCheckpoint.Open(path))
            foreach (var name in ck.Names)
            {
                var t = change(name, ck.Load(name));
                if (t is not null) tensors.Add(new(name, t));
            }
        SafetensorsWriter.Write(path, tensors);
    }

    [Fact]
    public void Unknown_model_type_is_named()
    {
        Fixtures.Cpu();
        string dir = CopyFixture("mixtral", c => c["model_type"] = "llama4_text");
        var e = Assert.Throws<InvalidDataException>(() => MoeModels.Load(dir));
        Assert.Contains("llama4_text", e.Message);
        Assert.Contains("config.json", e.Message);
    }

    [Fact]
    public void Inconsistent_config_is_rejected()
    {
        Fixtures.Cpu();
        string dir = CopyFixture("mixtral", c => c["num_key_value_heads"] = 3);
        var e = Assert.Throws<InvalidDataException>(() => MoeModels.Load(dir));
        Assert.Contains("num_key_value_heads", e.Message);
        dir = CopyFixture("qwen2_moe", c => c["num_experts_per_tok"] = 9);
        Assert.Contains("num_experts_per_tok", Assert.Throws<InvalidDataException>(() => MoeModels.Load(dir)).Message);
    }

    [Fact]
    public void Missing_tensor_is_named_with_the_file()
    {
        Fixtures.Cpu();
        string dir = CopyFixture("qwen2_moe");
        RewriteWeights(dir, (name, t) => name == "model.layers.2.mlp.experts.3.up_proj.weight" ? null : t);
        var e = Assert.Throws<InvalidDataException>(() => MoeModels.Load(dir));
        Assert.Contains("model.layers.2.mlp.experts.3.up_proj.weight", e.Message);
        Assert.Contains("model.safetensors", e.Message);
    }

    [Fact]
    public void Misshapen_tensor_is_named_with_both_shapes()
    {
        Fixtures.Cpu();
        string dir = CopyFixture("mixtral");
        RewriteWeights(dir, (name, t) => name == "model.layers.1.self_attn.k_proj.weight" ? t.narrow(0, 0, 8).contiguous() : t);
        var e = Assert.Throws<InvalidDataException>(() => MoeModels.Load(dir));
        Assert.Contains("model.layers.1.self_attn.k_proj.weight", e.Message);
        Assert.Contains("[8, 32]", e.Message);
        Assert.Contains("[16, 32]", e.Message);
    }

    [Fact]
    public void Too_long_input_for_the_cache_is_an_error()
    {
        Fixtures.Cpu();
        using var model = MoeModels.Load(Fixtures.Folder("olmoe")); // max_position_embeddings 128
        var prompt = Enumerable.Range(1, 100).ToArray();
        var e = Assert.Throws<ArgumentException>(() => Generation.Generate(model, [prompt], new GenerationOptions { MaxNewTokens = 40 }, TestContext.Current.CancellationToken));
        Assert.Contains("max_position_embeddings", e.Message);
        model.ResetCache(1, 8);
        e = Assert.Throws<ArgumentException>(() => model.Step([Enumerable.Range(1, 9).ToArray()]));
        Assert.Contains("KV cache holds 8", e.Message);
        Assert.Throws<ArgumentException>(() => model.Step([[5000]]));
    }
}
