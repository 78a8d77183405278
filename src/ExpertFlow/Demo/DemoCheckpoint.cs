using Toolkit.Data.Text;
using Toolkit.Reporting;
using Toolkit.Runtime.Safetensors;
using static TorchSharp.torch;

namespace ExpertFlow.Demo;

/// <summary>
/// Saves and loads the demo model as a Hugging Face folder: config.json, model.safetensors (fp32) and the
/// GPT-2 subset vocabulary (safetensors through Toolkit.Runtime.Safetensors).
/// </summary>
public static class DemoCheckpoint
{
    public const string WeightsFile = "model.safetensors";
    public const string ConfigFile = "config.json";

    /// <summary>Writes config, weights and vocabulary into <paramref name="directory"/>, each file atomically.</summary>
    public static void Save(string directory, DemoMixtral model, Gpt2SubsetTokenizer tokenizer, IReadOnlyDictionary<string, string>? metadata = null)
    {
        Directory.CreateDirectory(directory);
        Files.WriteAllTextAtomically(Path.Combine(directory, ConfigFile), model.Config.ToHuggingFaceJson());
        Files.WriteAtomically(Path.Combine(directory, Gpt2SubsetTokenizer.FileName), tokenizer.Save);
        var tensors = model.state_dict().Select(kv => KeyValuePair.Create(kv.Key, kv.Value.detach().to(ScalarType.Float32).cpu().contiguous())).ToList();
        Files.WriteAtomically(Path.Combine(directory, WeightsFile), path => SafetensorsWriter.Write(path, tensors, metadata));
        foreach (var t in tensors) t.Value.Dispose();
    }

    /// <summary>Loads a demo model folder written by <see cref="Save"/> (or any fp32 Mixtral with these keys).</summary>
    public static (DemoMixtral Model, Gpt2SubsetTokenizer Tokenizer) Load(string directory)
    {
        string configPath = Path.Combine(directory, ConfigFile);
        if (!File.Exists(configPath)) throw new FileNotFoundException($"'{directory}' has no {ConfigFile}; pass a folder written by 'expertflow train-demo'", configPath);
        var config = DemoMoeConfig.FromHuggingFaceJson(File.ReadAllText(configPath), configPath);
        var model = new DemoMixtral(config);
        using var checkpoint = SafetensorsCheckpoint.Open(Path.Combine(directory, WeightsFile));
        foreach (var (name, target) in model.state_dict())
        {
            if (!checkpoint.Contains(name)) throw new InvalidDataException($"{WeightsFile} in '{directory}' lacks tensor '{name}'");
            using var source = checkpoint.Load(name, dtype: ScalarType.Float32);
            if (!source.shape.SequenceEqual(target.shape))
                throw new InvalidDataException($"tensor '{name}' has shape [{string.Join(",", source.shape)}], config.json implies [{string.Join(",", target.shape)}]");
            using (no_grad()) target.copy_(source);
        }
        return (model, Gpt2SubsetTokenizer.Load(Path.Combine(directory, Gpt2SubsetTokenizer.FileName)));
    }
}
