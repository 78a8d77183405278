using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Toolkit.Data.Text;
using Toolkit.Reporting;
using TorchSharp;
using static TorchSharp.torch;

namespace ExpertFlow.Demo;

/// <summary>
/// Saves and loads the demo model as a Hugging Face folder: config.json, model.safetensors (fp32) and the
/// GPT-2 subset vocabulary. Only the fp32 subset of safetensors that this model needs is handled here
/// (TODO: switch to Toolkit.Runtime.Safetensors once the f-safetensors branch is merged).
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
        var tensors = model.state_dict().Select(kv => (kv.Key, kv.Value)).ToList();
        Files.WriteAtomically(Path.Combine(directory, WeightsFile), path => WriteSafetensors(path, tensors, metadata));
    }

    /// <summary>Loads a demo model folder written by <see cref="Save"/> (or any fp32 Mixtral with these keys).</summary>
    public static (DemoMixtral Model, Gpt2SubsetTokenizer Tokenizer) Load(string directory)
    {
        string configPath = Path.Combine(directory, ConfigFile);
        if (!File.Exists(configPath)) throw new FileNotFoundException($"'{directory}' has no {ConfigFile}; pass a folder written by 'expertflow train-demo'", configPath);
        var config = DemoMoeConfig.FromHuggingFaceJson(File.ReadAllText(configPath), configPath);
        var model = new DemoMixtral(config);
        var weights = ReadSafetensors(Path.Combine(directory, WeightsFile));
        var expected = model.state_dict();
        foreach (var (name, target) in expected)
        {
            if (!weights.TryGetValue(name, out var source)) throw new InvalidDataException($"{WeightsFile} in '{directory}' lacks tensor '{name}'");
            if (!source.shape.SequenceEqual(target.shape))
                throw new InvalidDataException($"tensor '{name}' has shape [{string.Join(",", source.shape)}], config.json implies [{string.Join(",", target.shape)}]");
            using (no_grad()) target.copy_(source);
        }
        foreach (var t in weights.Values) t.Dispose();
        return (model, Gpt2SubsetTokenizer.Load(Path.Combine(directory, Gpt2SubsetTokenizer.FileName)));
    }

    static void WriteSafetensors(string path, IReadOnlyList<(string Name, Tensor Tensor)> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var header = new JsonObject();
        var meta = new JsonObject { ["format"] = "pt" };
        foreach (var (k, v) in metadata ?? new Dictionary<string, string>()) meta[k] = v;
        header["__metadata__"] = meta;
        long offset = 0;
        var blobs = new List<byte[]>();
        foreach (var (name, tensor) in tensors)
        {
            using var cpu = tensor.detach().to(ScalarType.Float32).cpu().contiguous();
            var bytes = MemoryMarshal.AsBytes(cpu.data<float>().ToArray().AsSpan()).ToArray();
            header[name] = new JsonObject
            {
                ["dtype"] = "F32",
                ["shape"] = new JsonArray(tensor.shape.Select(d => (JsonNode)d).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes.Length),
            };
            offset += bytes.Length;
            blobs.Add(bytes);
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        using var file = File.Create(path);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)padded);
        file.Write(length);
        file.Write(json);
        for (int i = json.Length; i < padded; i++) file.WriteByte((byte)' ');
        foreach (var blob in blobs) file.Write(blob);
    }

    static Dictionary<string, Tensor> ReadSafetensors(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"weights file '{path}' not found", path);
        var bytes = File.ReadAllBytes(path);
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength <= 0 || 8 + headerLength > bytes.Length) throw new InvalidDataException($"'{path}' is not a safetensors file (bad header length)");
        var header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, (int)headerLength)) as JsonObject
            ?? throw new InvalidDataException($"'{path}': header is not a JSON object");
        long dataStart = 8 + headerLength;
        var result = new Dictionary<string, Tensor>();
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__" || node is null) continue;
            if ((string?)node["dtype"] != "F32") throw new InvalidDataException($"'{path}': tensor '{name}' is {(string?)node["dtype"]}; the demo loader reads F32 only");
            long[] shape = node["shape"]!.AsArray().Select(d => d!.GetValue<long>()).ToArray();
            long begin = node["data_offsets"]![0]!.GetValue<long>(), end = node["data_offsets"]![1]!.GetValue<long>();
            var floats = MemoryMarshal.Cast<byte, float>(bytes.AsSpan((int)(dataStart + begin), (int)(end - begin))).ToArray();
            result[name] = tensor(floats, shape);
        }
        return result;
    }
}
