using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using CsCheck;
using ExpertFlow.Model;
using Fuzzing;
using Toolkit.Runtime.Safetensors;

namespace ExpertFlow.Tests.Model;

/// <summary>
/// The fixture models with their weights damaged 1,000 ways while the safetensors file stays well-formed (the header is
/// rewritten over the same data): tensors missing, renamed, swapped, reshaped or reinterpreted as another dtype.
/// <see cref="MoeModels.Load"/> returns a model that steps, or throws InvalidDataException naming the file and tensor.
/// </summary>
public class WeightsFuzzTests(ITestOutputHelper output)
{
    static readonly string[] DTypes = ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2"];
    static int Size(string dtype) => dtype switch { "F64" or "I64" => 8, "F32" or "I32" => 4, "F16" or "BF16" or "I16" => 2, _ => 1 };

    sealed record Weights(string Family, JsonObject Header, byte[] Data, string[] Names);

    static Weights Read(string family)
    {
        byte[] file = File.ReadAllBytes(Path.Combine(Fixtures.Folder(family), "model.safetensors"));
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(file);
        var header = JsonNode.Parse(file.AsSpan(8, n))!.AsObject();
        return new Weights(family, header, file[(8 + n)..], header.Where(p => p.Key != "__metadata__").Select(p => p.Key).ToArray());
    }

    sealed record Step(string Name, Action<JsonObject> Apply);

    static Gen<Step> Steps(Weights w)
    {
        var tensor = Gen.Int[0, w.Names.Length - 1].Select(i => w.Names[i]);
        var drop = tensor.Select(t => new Step($"drop {t}", h => Rename(h, t, "unused." + t)));
        var swap = Gen.Select(tensor, tensor, (a, b) => new Step($"swap {a} and {b}", h =>
        {
            if (a == b || !h.ContainsKey(a) || !h.ContainsKey(b)) return;
            var (x, y) = (h[a]!, h[b]!);
            h.Remove(a); h.Remove(b);
            h[a] = y; h[b] = x;
        }));
        var reshape = Gen.Select(tensor, Gen.Int[0, 3], (t, kind) => new Step($"reshape {t} ({kind})", h =>
        {
            if (h[t] is not JsonObject e) return;
            long[] shape = e["shape"]!.AsArray().Select(d => (long)d!).ToArray();
            long[] changed = kind switch
            {
                0 => [.. shape.Reverse()],
                1 => [shape.Aggregate(1L, (a, b) => a * b)],
                2 => [1, .. shape],
                _ => shape.Length > 0 && shape[0] % 2 == 0 ? [2, shape[0] / 2, .. shape[1..]] : [.. shape, 1],
            };
            e["shape"] = new JsonArray(changed.Select(d => (JsonNode)d).ToArray());
        }));
        var retype = Gen.Select(tensor, Gen.OneOf(DTypes), (t, dtype) => new Step($"store {t} as {dtype}", h =>
        {
            if (h[t] is not JsonObject e) return;
            long[] shape = e["shape"]!.AsArray().Select(d => (long)d!).ToArray();
            int old = Size((string)e["dtype"]!), now = Size(dtype);
            if (shape.Length == 0) return;
            // same bytes: the last dimension scales with the element size (when it divides)
            long last = shape[^1] * old;
            if (last % now != 0) return;
            shape[^1] = last / now;
            e["dtype"] = dtype;
            e["shape"] = new JsonArray(shape.Select(d => (JsonNode)d).ToArray());
        }));
        return Gen.Frequency((3, drop), (2, swap), (3, reshape), (3, retype));
    }

    static void Rename(JsonObject h, string from, string to)
    {
        if (!h.TryGetPropertyValue(from, out var e) || h.ContainsKey(to)) return;
        h.Remove(from);
        h[to] = e;
    }

    static byte[] Write(JsonObject header, byte[] data)
    {
        byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString());
        var file = new byte[8 + json.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)json.Length);
        json.CopyTo(file, 8);
        data.CopyTo(file, 8 + json.Length);
        return file;
    }

    [Fact]
    public void Damaged_weights_load_or_name_the_file_and_tensor()
    {
        Fixtures.Cpu();
        var weights = Fixtures.Families.Select(Read).ToArray();
        using var temp = new TempFolder("weights-fuzz-");
        foreach (var w in weights)
        {
            Directory.CreateDirectory(temp.File(w.Family));
            File.Copy(Path.Combine(Fixtures.Folder(w.Family), "config.json"), Path.Combine(temp.File(w.Family), "config.json"));
        }
        var mutants = Gen.Int[0, weights.Length - 1].SelectMany(i => Gen.Int[1, 2].SelectMany(n => Steps(weights[i]).Array[n]).Select(steps =>
        {
            var header = weights[i].Header.DeepClone().AsObject();
            foreach (var s in steps) s.Apply(header);
            return (Family: weights[i].Family, Mutant: new Mutant($"{weights[i].Family}: {string.Join(", then ", steps.Select(s => s.Name))}", Write(header, weights[i].Data)));
        }));
        var property = new LoaderProperty("model.safetensors", typeof(InvalidDataException), typeof(SafetensorsFormatException));
        mutants.Sample(m =>
        {
            string folder = temp.File(m.Family);
            File.WriteAllBytes(Path.Combine(folder, "model.safetensors"), m.Mutant.Bytes);
            property.Check(m.Mutant, () =>
            {
                using var model = MoeModels.Load(folder);
                if (model is MoeCausalLM lm)
                {
                    lm.ResetCache(1, 4);
                    using var logits = lm.Step([[1, 2]]);
                    Assert.Equal(model.Config.VocabSize, logits.shape[^1]);
                }
            });
        }, iter: 1000, threads: 1, print: m => m.Mutant.Description);
        output.WriteLine(property.ToString());
        Assert.True(property.Accepted > 0 && property.Rejected > 0, property.ToString());
    }
}
