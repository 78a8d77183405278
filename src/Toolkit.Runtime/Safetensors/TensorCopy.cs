using System.Runtime.InteropServices;
using TorchSharp;

namespace Toolkit.Runtime.Safetensors;

/// <summary>Copies between raw memory and the storage of CPU TorchSharp tensors.</summary>
internal static unsafe partial class TensorCopy
{
    /// <summary>Pointer to the first element of a CPU tensor (its storage offset included).</summary>
    [LibraryImport("LibTorchSharp")]
    private static partial IntPtr THSTensor_data(IntPtr handle);

    public static byte* DataPointer(torch.Tensor tensor)
    {
        IntPtr p = THSTensor_data(tensor.Handle);
        if (p == IntPtr.Zero && tensor.NumberOfElements > 0)
            throw new InvalidOperationException("TorchSharp returned no data pointer for a non-empty tensor.");
        return (byte*)p;
    }

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

    /// <summary>Writes memory to a stream in chunks (ReadOnlySpan is limited to 2 GiB).</summary>
    public static void WriteTo(ReadOnlyMemory<byte> data, Stream stream) => stream.Write(data.Span);

}
