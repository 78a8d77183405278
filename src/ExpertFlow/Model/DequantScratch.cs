using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>
/// One expert's weights in the compute dtype on the compute device, rewritten from packed bytes for each expert the layer
/// computes (the layer runs one expert at a time, in stream order, so one scratch serves a whole layer). Owned by a
/// provider; the tensors it hands out are borrowed.
/// </summary>
public sealed class DequantScratch(PackedExpertLayout layout, ScalarType dtype, Device device) : IDisposable
{
    ExpertWeights? scratch;

    public PackedExpertLayout Layout => layout;

    /// <summary>Bytes of device memory the scratch occupies.</summary>
    public long Bytes => (layout.Input.Rows * layout.Input.Cols + layout.Output.Rows * layout.Output.Cols) * ExpertCatalog.DTypeSize(dtype);

    /// <summary>Dequantizes one expert's packed bytes (uint8 [<see cref="PackedExpertLayout.Bytes"/>], on the device) into the scratch.</summary>
    public ExpertWeights Dequantize(Tensor packed) => layout.DequantizeInto(packed, scratch ??= Allocate());

    ExpertWeights Allocate()
    {
        var input = empty([layout.Input.Rows, layout.Input.Cols], dtype, device).DetachFromDisposeScope();
        var output = empty([layout.Output.Rows, layout.Output.Cols], dtype, device).DetachFromDisposeScope();
        return new ExpertWeights(input, output);
    }

    public void Dispose()
    {
        scratch?.Input.Dispose();
        scratch?.Output.Dispose();
        scratch = null;
    }
}
