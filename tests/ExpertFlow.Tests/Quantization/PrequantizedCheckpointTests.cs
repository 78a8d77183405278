using System.Text.Json.Nodes;
using ExpertFlow.Model;
using ExpertFlow.Offloading;
using ExpertFlow.Offloading.Policies;
using ExpertFlow.Tests.Model;
using Toolkit.Runtime.Safetensors;
using static TorchSharp.torch;

namespace ExpertFlow.Tests.Quantization;

/// <summary>
/// GPTQ and AWQ checkpoints: the mixtral fixture's experts packed here by a scalar packer written from the formats'
/// definitions (GPTQ: inputs 8r+j in bits 4j of row r, zeros likewise along outputs, AutoGPTQ's zero-minus-one in the
/// original format, act-order groups from a permutation; AWQ: outputs 8c+[0,2,4,6,1,3,5,7][k] in bits 4k). The model
/// loaded from them must equal, bit for bit, the model loaded from a checkpoint holding the expected weights in fp32.
/// </summary>
public class PrequantizedCheckpointTests
{
    static readonly int[] AwqOrder = [0, 2, 4, 6, 1, 3, 5, 7];

    /// <summary>Quantizes w [out, in] in groups; returns q [in, out], zeros and scales [groups, out] and the exact dequantized weight.</summary>
    static (int[,] Q, int[,] Zeros, Half[,] Scales, float[] Expected) Quantize(float[] w, int outF, int inF, int[] groupOf, int groups, int zeroMin)
    {
        var q = new int[inF, outF];
        var zeros = new int[groups, outF];
        var scales = new Half[groups, outF];
        var expected = new float[outF * inF];
        for (int g = 0; g < groups; g++)
            for (int o = 0; o < outF; o++)
            {
                double lo = 0, hi = 0;
                for (int i = 0; i < inF; i++) if (groupOf[i] == g) { lo = Math.Min(lo, w[o * inF + i]); hi = Math.Max(hi, w[o * inF + i]); }
                var s = (Half)Math.Max((hi - lo) / 15, 1e-4);
                int z = (int)Math.Clamp(Math.Round(-lo / (double)s), zeroMin, 15);
                scales[g, o] = s;
                zeros[g, o] = z;
                for (int i = 0; i < inF; i++)
                    if (groupOf[i] == g)
                    {
                        q[i, o] = (int)Math.Clamp(Math.Round(w[o * inF + i] / (double)s) + z, 0, 15);
                        expected[o * inF + i] = (float)((double)s * (q[i, o] - z));
                    }
            }
        return (q, zeros, scales, expected);
    }

    static RawTensor Int32s(string name, uint[,] v) =>
        new(name, SafetensorsDType.I32, [v.GetLength(0), v.GetLength(1)], Bytes(v.Cast<uint>().ToArray()));
    static ReadOnlyMemory<byte> Bytes<T>(T[] v) where T : struct => System.Runtime.InteropServices.MemoryMarshal.AsBytes(v.AsSpan()).ToArray();

    /// <summary>
    /// Writes a copy of the mixtral fixture whose expert weights are stored as <paramref name="method"/> (gptq, gptq-act,
    /// gptq_v2, awq), and a second copy holding the expected dequantized experts as fp32 weights.
    /// </summary>
    static void Write(string method, int group, string quantizedFolder, string expectedFolder)
    {
        string source = Fixtures.Folder("mixtral");
        using var checkpoint = SafetensorsCheckpoint.Open(source);
        var rng = new Random(method.Length * 31 + group);
        var quantized = new List<RawTensor>();
        var exact = new List<RawTensor>();
        foreach (var name in checkpoint.Names)
        {
            var info = checkpoint.Info(name);
            var bytes = checkpoint.GetBytes(name).ToArray();
            if (!name.Contains(".experts.") || !name.EndsWith(".weight"))
            {
                quantized.Add(new RawTensor(name, info.DType, info.Shape, bytes));
                exact.Add(new RawTensor(name, info.DType, info.Shape, bytes));
                continue;
            }
            using var t = checkpoint.Load(name, CPU, ScalarType.Float32);
            var w = t.contiguous().data<float>().ToArray();
            int outF = (int)info.Shape[0], inF = (int)info.Shape[1], groups = inF / group;
            var groupOf = Enumerable.Range(0, inF).Select(i => i / group).ToArray();
            var gIdx = groupOf;
            if (method == "gptq-act")
            {
                var perm = Enumerable.Range(0, inF).OrderBy(_ => rng.Next()).ToArray(); // the order GPTQ visits inputs in
                gIdx = new int[inF];
                for (int k = 0; k < inF; k++) gIdx[perm[k]] = k / group;
            }
            bool v1 = method is "gptq" or "gptq-act";
            var (q, zeros, scales, expected) = Quantize(w, outF, inF, gIdx, groups, zeroMin: v1 ? 1 : 0);
            string b = name[..^".weight".Length];
            var zq = new uint[groups, outF / 8];
            if (method == "awq")
            {
                var qw = new uint[inF, outF / 8];
                for (int i = 0; i < inF; i++)
                    for (int c = 0; c < outF / 8; c++)
                        for (int k = 0; k < 8; k++) qw[i, c] |= (uint)q[i, 8 * c + AwqOrder[k]] << (4 * k);
                for (int g = 0; g < groups; g++)
                    for (int c = 0; c < outF / 8; c++)
                        for (int k = 0; k < 8; k++) zq[g, c] |= (uint)zeros[g, 8 * c + AwqOrder[k]] << (4 * k);
                quantized.Add(Int32s(b + ".qweight", qw));
            }
            else
            {
                var qw = new uint[inF / 8, outF];
                for (int r = 0; r < inF / 8; r++)
                    for (int o = 0; o < outF; o++)
                        for (int j = 0; j < 8; j++) qw[r, o] |= (uint)q[8 * r + j, o] << (4 * j);
                for (int g = 0; g < groups; g++)
                    for (int c = 0; c < outF / 8; c++)
                        for (int j = 0; j < 8; j++) zq[g, c] |= (uint)(zeros[g, 8 * c + j] - (v1 ? 1 : 0)) << (4 * j);
                quantized.Add(Int32s(b + ".qweight", qw));
                quantized.Add(new RawTensor(b + ".g_idx", SafetensorsDType.I32, [inF], Bytes(gIdx)));
            }
            quantized.Add(Int32s(b + ".qzeros", zq));
            quantized.Add(new RawTensor(b + ".scales", SafetensorsDType.F16, [groups, outF], Bytes(scales.Cast<Half>().ToArray())));
            exact.Add(new RawTensor(name, SafetensorsDType.F32, info.Shape, Bytes(expected)));
        }
        Directory.CreateDirectory(quantizedFolder);
        Directory.CreateDirectory(expectedFolder);
        SafetensorsWriter.WriteRaw(Path.Combine(quantizedFolder, "model.safetensors"), quantized);
        SafetensorsWriter.WriteRaw(Path.Combine(expectedFolder, "model.safetensors"), exact);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(source, "config.json")))!.AsObject();
        File.WriteAllText(Path.Combine(expectedFolder, "config.json"), config.ToJsonString());
        config["quantization_config"] = method == "awq"
            ? new JsonObject { ["quant_method"] = "awq", ["bits"] = 4, ["group_size"] = group, ["zero_point"] = true, ["version"] = "gemm" }
            : new JsonObject { ["quant_method"] = "gptq", ["bits"] = 4, ["group_size"] = group, ["desc_act"] = method == "gptq-act", ["sym"] = false,
                ["checkpoint_format"] = method == "gptq_v2" ? "gptq_v2" : "gptq" };
        File.WriteAllText(Path.Combine(quantizedFolder, "config.json"), config.ToJsonString());
    }

    static List<Tensor> Logits(IMoeModel model, int[][] prompts)
    {
        using (model)
        {
            model.ResetCache(prompts.Length, 32);
            var all = new List<Tensor>();
            var next = prompts;
            for (int s = 0; s < 4; s++)
            {
                using var logits = model.Step(next);
                all.Add(logits.cpu().clone());
                next = logits.argmax(-1).cpu().data<long>().ToArray().Select(x => new[] { (int)x }).ToArray();
            }
            (model.ExpertProvider as OffloadingExpertProvider)?.Finish();
            return all;
        }
    }

    [Theory]
    [InlineData("gptq", 8)]
    [InlineData("gptq", 16)]
    [InlineData("gptq-act", 8)]
    [InlineData("gptq_v2", 16)]
    [InlineData("awq", 8)]
    [InlineData("awq", 32)]
    public void Loads_equal_to_the_expected_weights_resident_and_offloaded(string method, int group)
    {
        Assert.SkipUnless(Fixtures.Exists("mixtral"), "fixture mixtral not present");
        var device = Fixtures.Cpu();
        using var temp = new TempFolder("prequantized");
        string quantized = temp.File("q"), exact = temp.File("x");
        Write(method, group, quantized, exact);
        var prompts = Fixtures.Cases("mixtral").Select(c => c.InputIds).ToArray();
        var expected = Logits(MoeModels.Load(exact, new ModelLoadOptions { Device = device }), prompts);
        // the offloaded runs compute expert by expert, as the resident provider without its stacked kernels does
        var expectedPerExpert = Logits(MoeModels.Load(exact, new ModelLoadOptions { Device = device, Experts = new ResidentExpertProvider(offerStacked: false) }), prompts);
        var resident = Logits(MoeModels.Load(quantized, new ModelLoadOptions { Device = device }), prompts);
        var options = new OffloadOptions(PolicySpec.Parse("lru"), MemoryBudget.ExpertSlots(5));
        var workload = new Workload(prompts.Length, prompts.Max(p => p.Length), 32);
        var offloaded = Logits(OffloadedModel.Load(quantized, new ModelLoadOptions { Device = device }, options, workload).Model, prompts);
        var int8 = ExpertFormat.Parse("int8");
        var expectedInt8 = Logits(MoeModels.Load(exact, new ModelLoadOptions { Device = device, ExpertFormat = int8, Experts = new ResidentExpertProvider(offerStacked: false) }), prompts);
        var offloadedInt8 = Logits(OffloadedModel.Load(quantized, new ModelLoadOptions { Device = device, ExpertFormat = int8 }, options, workload).Model, prompts);
        for (int s = 0; s < expected.Count; s++)
        {
            Assert.True(expected[s].allclose(resident[s], 0, 0), $"{method} g{group}: resident step {s} differs by {(expected[s] - resident[s]).abs().max().item<float>():g3}");
            Assert.True(expectedPerExpert[s].allclose(offloaded[s], 0, 0), $"{method} g{group}: offloaded step {s} differs");
            Assert.True(expectedInt8[s].allclose(offloadedInt8[s], 0, 0), $"{method} g{group}: int8 step {s} differs");
        }
    }

    [Theory]
    [InlineData("""{"quant_method": "fp8"}""", "quant_method")]
    [InlineData("""{"quant_method": "gptq", "bits": 8, "group_size": 128}""", "bits")]
    [InlineData("""{"quant_method": "gptq", "bits": 4, "group_size": 128, "checkpoint_format": "marlin"}""", "checkpoint_format")]
    [InlineData("""{"quant_method": "awq", "bits": 4, "group_size": 128, "version": "gemv"}""", "version")]
    [InlineData("""{"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": false}""", "zero_point")]
    [InlineData("""{"quant_method": "gptq", "bits": 4, "group_size": 12}""", "group_size")]
    [InlineData("""{"bits": 4}""", "quant_method")]
    public void Unsupported_variants_name_the_field(string quantizationConfig, string field)
    {
        using var temp = new TempFolder("qconfig");
        File.WriteAllText(temp.File("config.json"), $$"""{"model_type": "mixtral", "quantization_config": {{quantizationConfig}} }""");
        var e = Assert.Throws<InvalidDataException>(() => QuantizationConfig.Load(temp.Path));
        Assert.Contains($"quantization_config.{field}", e.Message);
    }

    [Fact]
    public void A_missing_packed_tensor_is_named()
    {
        Assert.SkipUnless(Fixtures.Exists("mixtral"), "fixture mixtral not present");
        using var temp = new TempFolder("prequantized");
        Write("awq", 8, temp.File("q"), temp.File("x"));
        using (var ck = SafetensorsCheckpoint.Open(temp.File("q")))
        {
            var kept = ck.Names.Where(n => !n.EndsWith("layers.0.block_sparse_moe.experts.1.w2.scales"))
                .Select(n => new RawTensor(n, ck.Info(n).DType, ck.Info(n).Shape, ck.GetBytes(n).ToArray())).ToList();
            SafetensorsWriter.WriteRaw(temp.File("broken.safetensors"), kept);
        }
        File.Move(temp.File("broken.safetensors"), Path.Combine(temp.File("q"), "model.safetensors"), overwrite: true);
        var e = Assert.Throws<InvalidDataException>(() => MoeModels.Load(temp.File("q"), new ModelLoadOptions { Device = Fixtures.Cpu() }).Dispose());
        Assert.Contains("experts.1.w2.scales", e.Message);
    }
}
