using System.Text.RegularExpressions;
using Toolkit.Runtime.Safetensors;
using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>
/// gpt-oss's routed experts, which the checkpoint stores stacked per layer, seen as one input and one output matrix
/// per expert in the runtime's layout (<see cref="ExpertWeights"/>), biases folded in as an extra column:
/// <c>model.layers.L.mlp.experts.E.gate_up.weight</c> [2I, H + c] (the I gate rows, then the I up rows; column H holds
/// their biases, the other c - 1 extra columns are zero) and <c>model.layers.L.mlp.experts.E.down.weight</c> [H, I + c]
/// (column I holds the bias), c = <see cref="MoeConfig.ExpertBiasColumns"/>. Stored tensors, as on the Hub:
/// <list type="bullet">
/// <item>full precision: <c>mlp.experts.gate_up_proj</c> [E, H, 2I] with gate and up interleaved along the last
/// dimension (gate j at 2j, up j at 2j + 1), <c>gate_up_proj_bias</c> [E, 2I] (interleaved the same way),
/// <c>down_proj</c> [E, I, H], <c>down_proj_bias</c> [E, H];</item>
/// <item>MXFP4 (quantization_config.quant_method "mxfp4"): <c>gate_up_proj_blocks</c> uint8 [E, 2I, H/32, 16] and
/// <c>gate_up_proj_scales</c> uint8 [E, 2I, H/32] (row r of the 2I is output r of the interleaved layout),
/// <c>down_proj_blocks</c> [E, H, I/32, 16] and <c>down_proj_scales</c> [E, H, I/32], biases as above. The values are
/// dequantized exactly (<see cref="Mxfp4"/>) when an expert is read, then held in the compute dtype.</item>
/// </list>
/// Only the expert read is touched: a row of a stacked tensor is sliced from the memory-mapped checkpoint.
/// </summary>
public sealed partial class GptOssExpertWeights(IWeightSource inner, MoeConfig config) : IWeightSource
{
    readonly int e = config.NumExperts, h = config.HiddenSize, inter = config.ExpertIntermediateSize, extra = config.ExpertBiasColumns;

    [GeneratedRegex(@"^model\.layers\.(\d+)\.mlp\.experts\.(\d+)\.(gate_up|down)\.weight$")]
    private static partial Regex VirtualName();

    [GeneratedRegex(@"^model\.layers\.\d+\.mlp\.experts\.(gate_up_proj|down_proj)(_bias|_blocks|_scales)?$")]
    private static partial Regex StoredName();

    /// <summary>The runtime name of one expert's input ("gate_up") or output ("down") matrix.</summary>
    public static string Name(int layer, int expert, string part) => $"model.layers.{layer}.mlp.experts.{expert}.{part}.weight";

    public SafetensorsCheckpoint? Checkpoint => inner.Checkpoint;
    public string Description => config.Mxfp4Experts ? $"{inner.Description} (MXFP4 experts, dequantized at load)" : inner.Description;

    static string Stacked(int layer) => $"model.layers.{layer}.mlp.experts";

    public bool Contains(string name)
    {
        var m = VirtualName().Match(name);
        if (!m.Success) return inner.Contains(name);
        string p = $"{Stacked(int.Parse(m.Groups[1].Value))}.{m.Groups[3].Value}_proj";
        return inner.Contains(config.Mxfp4Experts ? p + "_blocks" : p);
    }

    public (string Name, long Elements)? Logical(string storedName) =>
        StoredName().IsMatch(storedName) ? ("", 0) : inner.Logical(storedName);

    /// <summary>The shapes of the stored tensors behind one expert part: (name, dtype class, shape).</summary>
    (string Name, bool Bytes, long[] Shape)[] StoredParts(int layer, bool input)
    {
        string p = $"{Stacked(layer)}.{(input ? "gate_up_proj" : "down_proj")}";
        long rows = input ? 2L * inter : h, cols = input ? h : inter;
        var bias = (p + "_bias", false, new long[] { e, rows });
        if (config.Mxfp4Experts)
            return [(p + "_blocks", true, [e, rows, cols / Mxfp4.BlockSize, Mxfp4.BlockBytes]), (p + "_scales", true, [e, rows, cols / Mxfp4.BlockSize]), bias];
        return [(p, false, input ? [e, h, 2L * inter] : [e, inter, h]), bias];
    }

    (int Layer, int Expert, bool Input)? Parse(string name)
    {
        var m = VirtualName().Match(name);
        return m.Success ? (int.Parse(m.Groups[1].Value), int.Parse(m.Groups[2].Value), m.Groups[3].Value == "gate_up") : null;
    }

    long[] ShapeOf(bool input) => input ? [2L * inter, h + extra] : [h, inter + extra];

    public void Check(string name, long[] shape)
    {
        if (Parse(name) is not { } v) { inner.Check(name, shape); return; }
        if (!shape.SequenceEqual(ShapeOf(v.Input)))
            throw new InvalidOperationException($"'{name}' is [{string.Join(", ", ShapeOf(v.Input))}], not [{string.Join(", ", shape)}]");
        if (v.Expert < 0 || v.Expert >= e) throw new InvalidDataException($"'{name}': expert {v.Expert} is outside 0..{e - 1}");
        foreach (var (stored, bytes, storedShape) in StoredParts(v.Layer, v.Input))
        {
            if (!bytes) { inner.Check(stored, storedShape); continue; }
            var ck = Checkpoint ?? throw new InvalidDataException($"{Description}: MXFP4 experts need a safetensors checkpoint");
            if (!ck.Contains(stored))
                throw new InvalidDataException($"The checkpoint '{Description}' has no tensor '{stored}', which MXFP4 experts (quantization_config.quant_method mxfp4) need. Check that config.json and the safetensors files belong together.");
            var info = ck.Info(stored);
            if (info.DType != SafetensorsDType.U8 || !info.Shape.SequenceEqual(storedShape))
                throw new InvalidDataException($"Tensor '{stored}' in '{info.FilePath}' is {info.DType} {info.ShapeText}; MXFP4 experts of this config.json need U8 [{string.Join(", ", storedShape)}].");
        }
    }

    /// <summary>One expert's input ([2I, H + c]) or output ([H, I + c]) matrix in fp32, row-major (biases folded in).</summary>
    public float[] Expert(int layer, int expert, bool input)
    {
        var parts = StoredParts(layer, input);
        long rows = input ? 2L * inter : h, cols = input ? h : inter;
        long width = cols + extra;
        var result = new float[rows * width];
        float[] bias = FloatRow(parts[^1].Name, expert, parts[^1].Shape);
        float[] values; // [rows, cols] in the stored output order (interleaved gate/up for the input)
        if (config.Mxfp4Experts)
        {
            var ck = Checkpoint!;
            long blocksPerExpert = rows * (cols / Mxfp4.BlockSize);
            var blocks = ck.GetBytes(parts[0].Name).Slice(checked((int)(expert * blocksPerExpert * Mxfp4.BlockBytes)), checked((int)(blocksPerExpert * Mxfp4.BlockBytes)));
            var scales = ck.GetBytes(parts[1].Name).Slice(checked((int)(expert * blocksPerExpert)), checked((int)blocksPerExpert));
            values = new float[rows * cols];
            Mxfp4.Decode(blocks, scales, values, $"'{parts[0].Name}' (expert {expert})");
        }
        else
        {
            // stored transposed ([cols, rows]): gate_up_proj [H, 2I], down_proj [I, H]
            var stored = FloatRow(parts[0].Name, expert, parts[0].Shape);
            values = new float[rows * cols];
            for (long c = 0; c < cols; c++)
                for (long r = 0; r < rows; r++) values[r * cols + c] = stored[c * rows + r];
        }
        for (long r = 0; r < rows; r++)
        {
            // input: runtime row j < I is gate j (stored row 2j), row I + j is up j (stored row 2j + 1)
            long from = input ? (r < inter ? 2 * r : 2 * (r - inter) + 1) : r;
            Array.Copy(values, from * cols, result, r * width, cols);
            if (extra > 0) result[r * width + cols] = bias[from];
        }
        return result;
    }

    /// <summary>Row <paramref name="row"/> of a stacked float tensor, in fp32 (sliced from the mapped file when there is one).</summary>
    float[] FloatRow(string name, int row, long[] storedShape)
    {
        inner.Check(name, storedShape);
        long count = storedShape.Skip(1).Aggregate(1L, (a, b) => a * b);
        using var scope = NewDisposeScope();
        if (Checkpoint is { } ck && ck.Contains(name))
        {
            var info = ck.Info(name);
            var stored = info.DType.ToScalarType() ?? throw new InvalidDataException($"Tensor '{name}' in '{info.FilePath}' is stored as {info.DType}, which cannot be read.");
            int size = info.DType.ElementSize();
            var cpu = empty([count], stored, CPU);
            ck.GetBytes(name).Slice(checked((int)(row * count * size)), checked((int)(count * size))).CopyTo(cpu.bytes);
            return cpu.to(ScalarType.Float32).data<float>().ToArray();
        }
        var all = inner.Load(name, storedShape, CPU, ScalarType.Float32);
        return all[row].contiguous().data<float>().ToArray();
    }

    public Tensor Load(string name, long[] shape, Device device, ScalarType dtype)
    {
        if (Parse(name) is not { } v) return inner.Load(name, shape, device, dtype);
        Check(name, shape);
        using var host = tensor(Expert(v.Layer, v.Expert, v.Input), shape, ScalarType.Float32);
        return host.to(dtype, device);
    }

    public void LoadInto(string name, long[] shape, Tensor destination)
    {
        if (Parse(name) is null) { inner.LoadInto(name, shape, destination); return; }
        using var loaded = Load(name, shape, destination.device, destination.dtype);
        destination.copy_(loaded.view(destination.shape));
    }

    public void Dispose() => inner.Dispose();
}
