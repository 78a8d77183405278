using static TorchSharp.torch;

namespace ExpertFlow.Offloading;

/// <summary>Experts taken from tensors (e.g. loaded on the CPU by the runtime); converts dtype when needed.</summary>
public sealed class TensorExpertSource(ExpertLayout layout, Func<ExpertKey, string, Tensor> getPart) : IExpertSource
{
    public ExpertLayout Layout { get; } = layout;

    public void Read(ExpertKey key, Span<byte> destination)
    {
        CheckDestination(Layout, destination);
        int offset = 0;
        using var scope = NewDisposeScope();
        for (int p = 0; p < Layout.Parts.Count; p++)
        {
            var part = Layout.Parts[p];
            var t = getPart(key, part.Name);
            if (!t.shape.SequenceEqual(part.Shape))
                throw new InvalidDataException($"expert {key} part '{part.Name}' has shape [{string.Join(",", t.shape)}], expected [{string.Join(",", part.Shape)}]");
            var cpu = t.to(Layout.DType, CPU).contiguous();
            int n = checked((int)(part.Elements * Layout.ElementSize));
            cpu.bytes.CopyTo(destination.Slice(offset, n));
            offset += n;
        }
    }

    internal static void CheckDestination(ExpertLayout layout, Span<byte> destination)
    {
        if (destination.Length != layout.BytesPerExpert)
            throw new ArgumentException($"destination holds {destination.Length} bytes, an expert needs {layout.BytesPerExpert}");
    }
}
