using Toolkit.Runtime.Cuda;
using TorchSharp;

namespace Toolkit.Runtime.Safetensors;

/// <summary>Copies between raw memory and the storage of CPU TorchSharp tensors.</summary>
internal static unsafe class TensorCopy
{
    /// <summary>Pointer to the first element of a CPU tensor (through TensorMemory, the one place that reads it).</summary>
    static byte* DataPointer(torch.Tensor tensor) => (byte*)TensorMemory.DataPointer(tensor);

    public static torch.Tensor FromMemory(TensorInfo info, byte* source, torch.Device? device, torch.ScalarType? dtype)
    {
        var stored = info.DType.ToScalarType() ?? throw new NotSupportedException(
            $"Tensor '{info.Name}' in '{info.FilePath}' is {info.DType}, which TorchSharp cannot hold; read its raw bytes with GetBytes or GetPointer.");
        var cpu = torch.empty(info.Shape, stored, torch.CPU);
        try
        {
            if (info.ByteLength > 0)
                Buffer.MemoryCopy(source, DataPointer(cpu), info.ByteLength, info.ByteLength);
            var target = dtype ?? stored;
            bool move = device is not null && device.type != DeviceType.CPU;
            if (!move && target == stored) return cpu;
            var result = move ? cpu.to(target, device!) : cpu.to(target);
            cpu.Dispose();
            return result;
        }
        catch
        {
            cpu.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Copies a stored tensor into an existing tensor of the same shape (a module parameter, a pinned buffer).
    /// Same dtype, contiguous, on the CPU: one memcpy. Otherwise: through a CPU tensor and copy_ (which
    /// converts dtype and moves across devices). Runs under no_grad, so parameters can be filled.
    /// </summary>
    public static void Into(TensorInfo info, byte* source, torch.Tensor destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (!destination.shape.SequenceEqual(info.Shape))
            throw new ArgumentException($"Tensor '{info.Name}' in '{info.FilePath}' has shape {info.ShapeText}, but the destination has shape [{string.Join(", ", destination.shape)}].", nameof(destination));
        using var noGrad = torch.no_grad();
        if (destination.device_type == DeviceType.CPU && destination.is_contiguous() && info.DType.ToScalarType() == destination.dtype)
        {
            if (info.ByteLength > 0) Buffer.MemoryCopy(source, DataPointer(destination), info.ByteLength, info.ByteLength);
            return;
        }
        using var cpu = FromMemory(info, source, null, null);
        destination.copy_(cpu);
    }

    /// <summary>Writes a tensor's bytes (row-major, little-endian) to a stream; moves it to the CPU first if needed.</summary>
    public static void WriteTo(torch.Tensor tensor, Stream stream)
    {
        using var scope = torch.NewDisposeScope();
        var cpu = tensor.detach();
        if (cpu.device_type != DeviceType.CPU) cpu = cpu.cpu();
        if (!cpu.is_contiguous()) cpu = cpu.contiguous();
        long length = cpu.NumberOfElements * cpu.ElementSize;
        if (length == 0) return;
        byte* p = DataPointer(cpu);
        const int chunk = 1 << 26;
        for (long done = 0; done < length; done += chunk)
            stream.Write(new ReadOnlySpan<byte>(p + done, (int)Math.Min(chunk, length - done)));
    }
}
