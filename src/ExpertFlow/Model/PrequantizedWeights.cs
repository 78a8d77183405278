using System.Runtime.InteropServices;
using Toolkit.Runtime.Safetensors;
using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>
/// A GPTQ or AWQ checkpoint seen as ordinary weights: every linear layer stored as <c>NAME.qweight</c> (with qzeros,
/// scales and, for GPTQ, g_idx) answers for <c>NAME.weight</c> [out, in], dequantized on the host in fp32 (exact: an
/// fp16 scale times a 4-bit difference), then converted to the compute dtype. The formulas, per input feature i and
/// output feature o:
/// <list type="bullet">
/// <item>GPTQ: qweight int32 [in/8, out], nibble j of row r is q[8r+j, o]; qzeros int32 [groups, out/8], nibble j of
/// column c is the zero of output 8c+j (plus one in AutoGPTQ's original format); scales fp16 [groups, out]; g = g_idx[i]
/// (i / group_size without g_idx); w[o, i] = scales[g, o] · (q[i, o] - zero[g, o]).</item>
/// <item>AWQ (GEMM): qweight int32 [in, out/8] and qzeros int32 [groups, out/8] hold outputs 8c+j in nibble
/// [0, 4, 1, 5, 2, 6, 3, 7][j] of column c; scales fp16 [groups, out]; g = i / group_size.</item>
/// </list>
/// </summary>
public sealed class PrequantizedWeights(IWeightSource inner, QuantizationConfig config) : IWeightSource
{
    static readonly int[] AwqNibble = [0, 4, 1, 5, 2, 6, 3, 7];
    static readonly string[] Suffixes = [".qweight", ".qzeros", ".scales", ".g_idx"];

    /// <summary>Wraps <paramref name="weights"/> when the folder's config.json declares a quantization_config.</summary>
    public static IWeightSource Wrap(string folder, IWeightSource weights)
    {
        try
        {
            // MXFP4 covers only gpt-oss's experts, which the gpt-oss expert reader decodes (GptOssExpertWeights)
            return QuantizationConfig.Load(folder) is { Method: not "mxfp4" } q ? new PrequantizedWeights(weights, q) : weights;
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }

    public QuantizationConfig Config => config;
    public SafetensorsCheckpoint? Checkpoint => inner.Checkpoint;
    public string Description => $"{inner.Description} ({config.Method.ToUpperInvariant()} 4-bit)";

    static string Base(string name) => name[..^".weight".Length];
    bool IsQuantized(string name) => name.EndsWith(".weight") && inner.Contains(Base(name) + ".qweight");

    public bool Contains(string name) => inner.Contains(name) || IsQuantized(name);

    public (string Name, long Elements)? Logical(string storedName)
    {
        foreach (var s in Suffixes)
            if (storedName.EndsWith(s) && inner.Contains(storedName[..^s.Length] + ".qweight"))
            {
                if (s != ".qweight" || Checkpoint is not { } ck) return ("", 0);
                var shape = ck.Info(storedName).Shape; // GPTQ [in/8, out], AWQ [in, out/8]: in*out either way
                return (storedName[..^s.Length] + ".weight", shape[0] * shape[1] * 8);
            }
        return null;
    }

    public void Check(string name, long[] shape)
    {
        if (!IsQuantized(name)) { inner.Check(name, shape); return; }
        Shapes(name, shape);
    }

    /// <summary>Checks the stored tensors of a quantized [out, in] weight and returns (groups, group of each input).</summary>
    (long Groups, int[] GroupOf) Shapes(string name, long[] shape)
    {
        var ck = Checkpoint ?? throw new InvalidDataException($"{Description}: quantized weights need a checkpoint");
        string b = Base(name);
        long outF = shape[0], inF = shape[1];
        if (inF % 8 != 0 || outF % 8 != 0) throw new InvalidDataException($"'{b}' is [{outF}, {inF}]: 4-bit packing needs both sizes to be multiples of 8");
        long group = config.GroupSize == -1 ? inF : config.GroupSize;
        long groups = (inF + group - 1) / group;
        void Expect(string suffix, SafetensorsDType dtype, params long[] expected)
        {
            string n = b + suffix;
            if (!ck.Contains(n)) throw new InvalidDataException($"the {config.Method.ToUpperInvariant()} checkpoint '{Description}' has no tensor '{n}'");
            var info = ck.Info(n);
            if (info.DType != dtype || !info.Shape.SequenceEqual(expected))
                throw new InvalidDataException($"'{n}' in '{info.FilePath}' is {info.DType} {info.ShapeText}; {config.Method.ToUpperInvariant()} with group size {config.GroupSize} and a [{outF}, {inF}] weight needs {dtype} [{string.Join(", ", expected)}]");
        }
        bool gptq = config.Method == "gptq";
        Expect(".qweight", SafetensorsDType.I32, gptq ? [inF / 8, outF] : [inF, outF / 8]);
        Expect(".qzeros", SafetensorsDType.I32, groups, outF / 8);
        Expect(".scales", SafetensorsDType.F16, groups, outF);
        var groupOf = new int[inF];
        if (gptq && ck.Contains(b + ".g_idx"))
        {
            Expect(".g_idx", SafetensorsDType.I32, inF);
            MemoryMarshal.Cast<byte, int>(ck.GetBytes(b + ".g_idx")).CopyTo(groupOf);
            if (groupOf.Any(g => (uint)g >= groups)) throw new InvalidDataException($"'{b}.g_idx' names groups outside 0..{groups - 1}");
        }
        else for (int i = 0; i < inF; i++) groupOf[i] = (int)(i / group);
        return (groups, groupOf);
    }

    /// <summary>The dequantized [out, in] weight, row-major, in fp32.</summary>
    public float[] Dequantize(string name, long[] shape)
    {
        var (_, groupOf) = Shapes(name, shape);
        var ck = Checkpoint!;
        string b = Base(name);
        int outF = (int)shape[0], inF = (int)shape[1];
        var qweight = MemoryMarshal.Cast<byte, uint>(ck.GetBytes(b + ".qweight")).ToArray();
        var qzeros = MemoryMarshal.Cast<byte, uint>(ck.GetBytes(b + ".qzeros")).ToArray();
        var scales = MemoryMarshal.Cast<byte, Half>(ck.GetBytes(b + ".scales")).ToArray();
        var w = new float[(long)outF * inF];
        bool gptq = config.Method == "gptq";
        int zeroOffset = config.ZeroOffset;
        int packedOut = outF / 8;
        Parallel.For(0, inF, i =>
        {
            int g = groupOf[i];
            for (int o = 0; o < outF; o++)
            {
                int shift = gptq ? 4 * (o % 8) : 4 * AwqNibble[o % 8];
                int zero = (int)((qzeros[(long)g * packedOut + o / 8] >> shift) & 15) + zeroOffset;
                int q = gptq ? (int)((qweight[(long)(i / 8) * outF + o] >> (4 * (i % 8))) & 15)
                             : (int)((qweight[(long)i * packedOut + o / 8] >> shift) & 15);
                w[(long)o * inF + i] = (float)scales[(long)g * outF + o] * (q - zero);
            }
        });
        return w;
    }

    public Tensor Load(string name, long[] shape, Device device, ScalarType dtype)
    {
        if (!IsQuantized(name)) return inner.Load(name, shape, device, dtype);
        using var host = tensor(Dequantize(name, shape), shape, ScalarType.Float32);
        return host.to(dtype, device);
    }

    public void LoadInto(string name, long[] shape, Tensor destination)
    {
        if (!IsQuantized(name)) { inner.LoadInto(name, shape, destination); return; }
        using var loaded = Load(name, shape, destination.device, destination.dtype);
        destination.copy_(loaded.view(destination.shape));
    }

    public void Dispose() => inner.Dispose();
}
