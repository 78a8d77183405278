using TorchSharp;

namespace Toolkit.Runtime.Cuda;

/// <summary>
/// Where a TorchSharp tensor's bytes are, with the checks a raw copy needs. TorchSharp 0.107 has no public
/// data pointer; this is the one place that reads it (from TorchSharp's native shim).
/// </summary>
public static class TensorMemory
{
    /// <summary>Bytes of the tensor's elements (numel * element size).</summary>
    public static long ByteSize(torch.Tensor tensor, string name = "tensor")
    {
        ArgumentNullException.ThrowIfNull(tensor, name);
        if (tensor.IsInvalid) throw new ObjectDisposedException(name, $"Tensor '{name}' has been disposed.");
        return tensor.NumberOfElements * tensor.ElementSize;
    }

    /// <summary>
    /// The device address of a contiguous tensor on cuda:<paramref name="deviceIndex"/> (for raw copies into
    /// it, e.g. with <see cref="CudaStream.CopyHostToDevice"/>), whatever its size.
    /// </summary>
    public static ulong DeviceAddress(torch.Tensor tensor, int deviceIndex, string name = "tensor") =>
        DeviceAddress(tensor, deviceIndex, ByteSize(tensor, name), name);

    /// <summary>
    /// The device address of a contiguous tensor of exactly <paramref name="expectedBytes"/> bytes on
    /// cuda:<paramref name="deviceIndex"/>. Checks contiguity, then size, then device, each with a clear error.
    /// </summary>
    public static ulong DeviceAddress(torch.Tensor tensor, int deviceIndex, long expectedBytes, string name)
    {
        long bytes = ByteSize(tensor, name);
        if (!tensor.is_contiguous())
            throw new ArgumentException(
                $"Tensor '{name}' (shape [{string.Join(", ", tensor.shape)}], strides [{string.Join(", ", tensor.stride())}]) is not contiguous; " +
                "a raw copy needs one dense block of memory. Copy into a contiguous tensor (or a contiguous slice of one), or call .contiguous() first.", name);
        if (bytes != expectedBytes)
            throw new ArgumentException(
                $"Tensor '{name}' ({tensor.dtype}, shape [{string.Join(", ", tensor.shape)}]) holds {bytes} bytes, but the copy moves {expectedBytes} bytes. Make the sizes agree.", name);
        if (tensor.device_type != DeviceType.CUDA || tensor.device_index != deviceIndex)
            throw new ArgumentException(
                $"Tensor '{name}' is on {tensor.device}, but the stream belongs to cuda:{deviceIndex}. Allocate the tensor on cuda:{deviceIndex} (host tensors are copied with TorchSharp, not here).", name);
        return (ulong)DataPointer(tensor);
    }

    /// <summary>The address of the tensor's first element (storage offset included), on whatever device it lives.</summary>
    public static IntPtr DataPointer(torch.Tensor tensor)
    {
        IntPtr p = TorchSharpNative.THSTensor_data(tensor.Handle);
        if (p == IntPtr.Zero && tensor.NumberOfElements > 0)
            throw new InvalidOperationException("TorchSharp returned no data pointer for a non-empty tensor (THSTensor_data); the tensor may be undefined.");
        return p;
    }

    /// <summary>Checks that [offset, offset + count) lies inside a region of <paramref name="length"/> bytes.</summary>
    internal static void CheckHostRange(long length, long offset, long count, string name)
    {
        if (offset < 0 || count < 0 || offset > length || count > length - offset)
            throw new ArgumentOutOfRangeException(name,
                $"The range of {count} bytes at offset {offset} does not fit in '{name}', which holds {length} bytes.");
    }
}
