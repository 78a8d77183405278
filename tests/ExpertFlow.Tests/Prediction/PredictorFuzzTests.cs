using System.Text;
using CsCheck;
using ExpertFlow.Prediction;
using ExpertFlow.Tests.Model;
using Fuzzing;
using TorchSharp;

namespace ExpertFlow.Tests.Prediction;

/// <summary>
/// A saved predictor folder damaged 1,000 ways in predictor_config.json and 1,000 ways in predictor.bin (TorchSharp's
/// format: LEB128 counts, names, dtypes, shapes, raw data): <see cref="PredictorTrainer.Load"/> returns a predictor that
/// runs, or throws InvalidDataException naming the file; never another exception, never an allocation the file cannot back.
/// </summary>
public class PredictorFuzzTests(ITestOutputHelper output)
{
    static readonly ModelIdentity Model = new("mixtral", 2, 4, 2, 16, 8);

    static readonly PredictorConfig Tiny = new()
    {
        VocabSize = 16, NumLayers = 2, NumExperts = 4, TopK = 2, ModelDim = 8, Heads = 2, EncoderLayers = 1, DecoderLayers = 1,
        FeedForwardDim = 8, MaxPositions = 8, TrainedFor = Model,
    };

    static string SaveTiny(TempFolder temp)
    {
        Fixtures.Cpu();
        torch.manual_seed(1);
        using var predictor = new RoutingPathPredictor(Tiny);
        PredictorTrainer.Save(predictor, temp.Path);
        return temp.Path;
    }

    static void CheckRuns(RoutingPathPredictor p)
    {
        using var _ = p;
        using var scope = torch.NewDisposeScope();
        var ids = torch.tensor(new long[] { 1, 2, 3 }).unsqueeze(0);
        var logits = p.Forward(ids, torch.tensor(new long[] { 3 }), ids, torch.tensor(new long[] { 0 }));
        Assert.Equal(new long[] { 1, 3, p.Config.NumLayers, p.Config.NumExperts }, logits.shape);
    }

    [Fact]
    public void Damaged_predictor_config_loads_or_names_the_file()
    {
        using var temp = new TempFolder("predictor-fuzz-");
        string dir = SaveTiny(temp), path = Path.Combine(dir, PredictorTrainer.ConfigFile);
        string text = File.ReadAllText(path);
        // a config that parses but describes another predictor is found out by the weights, whose error names both files
        var property = new LoaderProperty(PredictorTrainer.ConfigFile, typeof(InvalidDataException));
        JsonMutations.Of(text).Sample(mutant =>
        {
            File.WriteAllBytes(path, mutant.Bytes);
            property.Check(mutant, () => CheckRuns(PredictorTrainer.Load(dir, Model)));
        }, iter: 1000, threads: 1, print: m => m.Description);
        output.WriteLine(property.ToString());
        Assert.True(property.Accepted > 0 && property.Rejected > 0, property.ToString());
    }

    [Fact]
    public void Damaged_predictor_weights_load_or_name_the_file()
    {
        using var temp = new TempFolder("predictor-fuzz-");
        string dir = SaveTiny(temp), path = Path.Combine(dir, PredictorTrainer.WeightsFile);
        byte[] original = File.ReadAllBytes(path);
        var property = new LoaderProperty(PredictorTrainer.WeightsFile, typeof(InvalidDataException));
        ByteMutations.Of(original, StructureOffsets(original)).Sample(mutant =>
        {
            File.WriteAllBytes(path, mutant.Bytes);
            property.Check(mutant, () => CheckRuns(PredictorTrainer.Load(dir, Model)));
        }, iter: 1000, threads: 1, print: m => m.Description);
        output.WriteLine(property.ToString());
        Assert.True(property.Accepted > 0 && property.Rejected > 0, property.ToString());
    }

    [Theory]
    [InlineData(16, 8, 2, 1, 1, 8, 8, 2, 4)]
    [InlineData(300, 32, 2, 2, 2, 64, 64, 3, 8)]
    [InlineData(50, 64, 4, 0, 3, 128, 32, 1, 60)]
    public void Parameter_count_matches_the_module(int vocab, int dim, int heads, int encoder, int decoder, int ff, int positions, int layers, int experts)
    {
        Fixtures.Cpu();
        var config = new PredictorConfig
        {
            VocabSize = vocab, NumLayers = layers, NumExperts = experts, TopK = 1, ModelDim = dim, Heads = heads, EncoderLayers = encoder,
            DecoderLayers = decoder, FeedForwardDim = ff, MaxPositions = positions,
        };
        using var predictor = new RoutingPathPredictor(config);
        Assert.Equal(predictor.parameters().Sum(p => p.numel()), config.ParameterCount);
    }

    /// <summary>Where the file's structure lies (entry count, each name's length prefix, dtype, rank, dims): where damage is most telling.</summary>
    static int[] StructureOffsets(byte[] file)
    {
        var offsets = new List<int>();
        using var reader = new BinaryReader(new MemoryStream(file), Encoding.UTF8);
        long Leb()
        {
            offsets.Add((int)reader.BaseStream.Position);
            long value = 0;
            for (int shift = 0; ; shift += 7)
            {
                byte b = reader.ReadByte();
                value |= (long)(b & 0x7F) << shift;
                if ((b & 0x80) == 0) return value;
            }
        }
        long entries = Leb();
        for (long i = 0; i < entries; i++)
        {
            offsets.Add((int)reader.BaseStream.Position);
            reader.ReadString();
            long dtype = Leb();
            long rank = Leb();
            long elements = 1;
            for (long d = 0; d < rank; d++) elements *= Leb();
            reader.BaseStream.Position += elements * (dtype == (long)torch.ScalarType.Float32 ? 4 : 8);
        }
        Assert.Equal(file.Length, reader.BaseStream.Position);
        return offsets.ToArray();
    }
}
