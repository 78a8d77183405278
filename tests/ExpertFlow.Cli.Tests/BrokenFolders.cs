using System.Text.Json.Nodes;
using ExpertFlow.Model;
using ExpertFlow.Prediction;
using ExpertFlow.Tracing;
using Toolkit.Runtime;
using Toolkit.Runtime.Safetensors;
using TorchSharp;

namespace ExpertFlow.Cli.Tests;

/// <summary>
/// A valid tiny Mixtral folder (the transformers fixture) and copies of it broken the ways users' downloads break:
/// config.json that is not JSON or is <c>[]</c>, truncated or empty weights, an index naming a missing shard; a
/// predictor folder with valid traces and a damaged predictor.bin; one with a truncated held-out trace. Deleted on Dispose.
/// </summary>
public sealed class BrokenFolders : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("expertflow-cli-").FullName;
    public string Valid => Path.Combine(Root, "valid");
    public string ConfigNotJson => Path.Combine(Root, "config-not-json");
    public string ConfigArray => Path.Combine(Root, "config-array");
    public string TruncatedWeights => Path.Combine(Root, "truncated-weights");
    public string EmptyWeights => Path.Combine(Root, "empty-weights");
    public string MissingShard => Path.Combine(Root, "missing-shard");
    /// <summary>Valid traces and predictor_config.json, predictor.bin with a damaged entry count.</summary>
    public string CorruptPredictor => Path.Combine(Root, "corrupt-predictor");
    /// <summary>A valid predictor, train.eftrace valid, heldout.eftrace cut inside a record.</summary>
    public string CorruptTrace => Path.Combine(Root, "corrupt-trace");
    /// <summary>A valid predictor; well-formed traces whose token ids exceed the model's vocabulary (another model's traces).</summary>
    public string ForeignTrace => Path.Combine(Root, "foreign-trace");
    /// <summary>A valid predictor and traces, predictor_calibration.json not JSON.</summary>
    public string CorruptCalibration => Path.Combine(Root, "corrupt-calibration");
    /// <summary>A valid predictor and traces, nothing else.</summary>
    public string ValidPredictor => Path.Combine(Root, "valid-predictor");

    public const string MissingShardName = "model-00002-of-00002.safetensors";

    public BrokenFolders()
    {
        string fixture = Path.Combine(AppContext.BaseDirectory, "fixtures", "moe", "mixtral");
        foreach (var folder in new[] { Valid, ConfigNotJson, ConfigArray, TruncatedWeights, EmptyWeights, MissingShard })
        {
            Directory.CreateDirectory(folder);
            foreach (var f in Directory.GetFiles(fixture)) File.Copy(f, Path.Combine(folder, Path.GetFileName(f)));
        }
        File.WriteAllText(Path.Combine(ConfigNotJson, "config.json"), "model_type = mixtral\n");
        File.WriteAllText(Path.Combine(ConfigArray, "config.json"), "[]");
        string weights = Path.Combine(TruncatedWeights, SafetensorsCheckpoint.SingleFileName);
        File.WriteAllBytes(weights, File.ReadAllBytes(weights)[..(int)(new FileInfo(weights).Length / 2)]);
        File.WriteAllBytes(Path.Combine(EmptyWeights, SafetensorsCheckpoint.SingleFileName), []);
        WriteIndexWithMissingShard();

        LibTorch.EnsureLoaded();
        var config = MoeConfig.Load(Valid);
        var identity = ModelIdentity.Of(config);
        var header = new RoutingTraceHeader(identity.MoeLayers, identity.Experts, identity.TopK);
        var predictorConfig = new PredictorConfig
        {
            VocabSize = config.VocabSize, NumLayers = identity.MoeLayers, NumExperts = identity.Experts, TopK = identity.TopK,
            ModelDim = 16, Heads = 2, EncoderLayers = 1, DecoderLayers = 1, FeedForwardDim = 16, MaxPositions = 64, TrainedFor = identity,
        };
        foreach (var folder in new[] { CorruptPredictor, CorruptTrace, ForeignTrace, CorruptCalibration, ValidPredictor })
        {
            WriteTraces(folder, header, folder == ForeignTrace ? 100_000 : config.VocabSize);
            torch.manual_seed(1);
            using var predictor = new RoutingPathPredictor(predictorConfig);
            PredictorTrainer.Save(predictor, folder);
        }
        string bin = Path.Combine(CorruptPredictor, PredictorTrainer.WeightsFile);
        var bytes = File.ReadAllBytes(bin);
        bytes[0] ^= 0x01; // the LEB128 entry count
        File.WriteAllBytes(bin, bytes);
        File.WriteAllText(Path.Combine(CorruptCalibration, PredictorCalibration.FileName), "{\"temperature\": ");
        string heldOut = Path.Combine(CorruptTrace, TraceSet.HeldOutFile);
        File.WriteAllBytes(heldOut, File.ReadAllBytes(heldOut)[..^3]);
    }

    /// <summary>model.safetensors renamed to the first of two shards; the index puts lm_head.weight in a second shard that is not there.</summary>
    void WriteIndexWithMissingShard()
    {
        const string first = "model-00001-of-00002.safetensors";
        File.Move(Path.Combine(MissingShard, SafetensorsCheckpoint.SingleFileName), Path.Combine(MissingShard, first));
        var map = new JsonObject();
        using (var file = SafetensorsFile.Open(Path.Combine(MissingShard, first)))
            foreach (var name in file.Names) map[name] = name == "lm_head.weight" ? MissingShardName : first;
        File.WriteAllText(Path.Combine(MissingShard, SafetensorsCheckpoint.IndexFileName), new JsonObject { ["metadata"] = new JsonObject(), ["weight_map"] = map }.ToJsonString());
    }

    /// <summary>Train and held-out traces of 40 sequences of 32 tokens with random routing (enough prompts for eval-cache).</summary>
    static void WriteTraces(string folder, RoutingTraceHeader header, int vocabulary)
    {
        Directory.CreateDirectory(folder);
        var random = new Random(7);
        IEnumerable<TokenRoute> Routes(int first) =>
            Enumerable.Range(first, 40).SelectMany(s => Enumerable.Range(0, 32).Select(p => new TokenRoute(s, p, random.Next(vocabulary),
                Enumerable.Range(0, header.NumLayers).SelectMany(_ => Enumerable.Range(0, header.NumExperts).OrderBy(_ => random.Next()).Take(header.TopK)).Select(e => (short)e).ToArray())))
            .ToList();
        RoutingTraceFile.Write(Path.Combine(folder, TraceSet.TrainFile), header, Routes(0));
        RoutingTraceFile.Write(Path.Combine(folder, TraceSet.HeldOutFile), header, Routes(1_000_000));
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
