using Toolkit.Runtime.Safetensors;
using static TorchSharp.torch;

namespace ExpertFlow.Offloading;

/// <summary>
/// Experts read from a memory-mapped safetensors checkpoint (sharded or not). Parts stored in the layout's
/// dtype are copied straight from the mapping; others are converted through a CPU tensor. Checks every
/// tensor's presence and shape up front, naming the tensor and the file when one is wrong.
/// </summary>
public sealed unsafe class CheckpointExpertSource : IExpertSource
{
    readonly SafetensorsCheckpoint checkpoint;
    readonly Func<ExpertKey, string, string> tensorName;

    /// <param name="checkpoint">The open checkpoint (owned by the caller; keep it open while this source is used).</param>
    /// <param name="layout">Experts, parts and the dtype wanted in the host tier and the slots.</param>
    /// <param name="tensorName">Checkpoint name of a part, e.g. (key, "gate_proj") → "model.layers.3.mlp.experts.7.gate_proj.weight".</param>
    public CheckpointExpertSource(SafetensorsCheckpoint checkpoint, ExpertLayout layout, Func<ExpertKey, string, string> tensorName)
    {
        this.checkpoint = checkpoint;
        this.tensorName = tensorName;
        Layout = layout;
        for (int i = 0; i < layout.TotalExperts; i++)
        {
            var key = layout.KeyAt(i);
            foreach (var part in layout.Parts)
            {
                string name = tensorName(key, part.Name);
                if (!checkpoint.Contains(name))
                    throw new InvalidDataException($"expert tensor '{name}' (layer {key.Layer}, expert {key.Expert}) is missing from the checkpoint {checkpoint.Source}");
                var info = checkpoint.Info(name);
                if (!info.Shape.SequenceEqual(part.Shape) && !IsStacked(info.Shape, part.Shape, layout.ExpertsPerLayer))
                    throw new InvalidDataException($"expert tensor '{name}' in {info.FilePath} has shape {info.ShapeText}, expected [{string.Join(", ", part.Shape)}]");
                if (info.DType.ToScalarType() == null)
                    throw new InvalidDataException($"expert tensor '{name}' in {info.FilePath} has dtype {info.DType}, which cannot be converted to {layout.DType}");
            }
        }
    }

    public ExpertLayout Layout { get; }

    /// <summary>A tensor holding every expert of a layer, [experts, ..part] (GraniteMoE): expert e is row e.</summary>
    static bool IsStacked(long[] stored, long[] part, int experts) =>
        stored.Length == part.Length + 1 && stored[0] == experts && stored.AsSpan(1).SequenceEqual(part);

    /// <summary>An expert layout whose parts take their shapes from the checkpoint's tensors for expert (first layer, 0).</summary>
    public static ExpertLayout LayoutFrom(SafetensorsCheckpoint checkpoint, IReadOnlyList<int> moeLayers, int expertsPerLayer,
        IReadOnlyList<string> partNames, Func<ExpertKey, string, string> tensorName, ScalarType dtype)
    {
        var first = new ExpertKey(moeLayers[0], 0);
        var parts = partNames.Select(p =>
        {
            string name = tensorName(first, p);
            if (!checkpoint.Contains(name)) throw new InvalidDataException($"expert tensor '{name}' is missing from the checkpoint {checkpoint.Source}");
            return new ExpertPart(p, checkpoint.Info(name).Shape);
        }).ToArray();
        return new ExpertLayout(moeLayers, expertsPerLayer, parts, dtype);
    }

    public void Read(ExpertKey key, Span<byte> destination)
    {
        TensorExpertSource.CheckDestination(Layout, destination);
        int offset = 0;
        for (int p = 0; p < Layout.Parts.Count; p++)
        {
            string name = tensorName(key, Layout.Parts[p].Name);
            var info = checkpoint.Info(name);
            int bytes = checked((int)(Layout.Parts[p].Elements * Layout.ElementSize));
            var target = destination.Slice(offset, bytes);
            bool stacked = !info.Shape.SequenceEqual(Layout.Parts[p].Shape);
            if (info.DType.ToScalarType() == Layout.DType)
            {
                var all = checkpoint.GetBytes(name);
                (stacked ? all.Slice(checked(key.Expert * bytes), bytes) : all).CopyTo(target);
            }
            else
            {
                using var scope = NewDisposeScope();
                var converted = checkpoint.Load(name, CPU, Layout.DType);
                (stacked ? converted[key.Expert] : converted).contiguous().bytes.CopyTo(target);
            }
            offset += bytes;
        }
    }
}
