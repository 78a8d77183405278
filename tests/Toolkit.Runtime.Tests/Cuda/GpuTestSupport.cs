using Toolkit.Runtime.Cuda;
using TorchSharp;

namespace Toolkit.Runtime.Tests.Cuda;

/// <summary>GPU tests share the device and measure time: they run one at a time, in this collection.</summary>
[CollectionDefinition("GPU", DisableParallelization = true)]
public sealed class GpuCollection;

internal static class Gpu
{
    /// <summary>Skips the test unless TorchSharp has CUDA and the driver opens; returns the driver.</summary>
    public static CudaDriver Require()
    {
        LibTorch.EnsureLoaded();
        if (!torch.cuda.is_available())
            Assert.Skip("no CUDA in TorchSharp (set LIBTORCH to a CUDA libtorch on a GPU machine)");
        if (!CudaDriver.TryOpen(out var driver, out string reason)) Assert.Skip(reason);
        return driver;
    }

    public static readonly torch.Device Cuda0 = new(DeviceType.CUDA, 0);

    /// <summary>Writes a measured figure to the test output and, when TOOLKIT_GPU_REPORT names a file, appends it there.</summary>
    public static void Report(string line)
    {
        TestContext.Current.TestOutputHelper?.WriteLine(line);
        string? file = Environment.GetEnvironmentVariable("TOOLKIT_GPU_REPORT");
        if (!string.IsNullOrEmpty(file)) File.AppendAllText(file, line + Environment.NewLine);
    }

    /// <summary>Fills memory with a position-dependent pattern (no zero run, differs at every offset modulo 2^64).</summary>
    public static unsafe void FillPattern(IntPtr pointer, long bytes, ulong seed)
    {
        ulong* p = (ulong*)pointer;
        long words = bytes / 8;
        for (long i = 0; i < words; i++) p[i] = ((ulong)i + seed) * 0x9E3779B97F4A7C15UL | 0x0101010101010101UL;
        byte* tail = (byte*)pointer;
        for (long i = words * 8; i < bytes; i++) tail[i] = (byte)(i * 31 + 7 | 1);
    }

    /// <summary>True when both regions hold the same bytes.</summary>
    public static unsafe bool SameBytes(IntPtr a, IntPtr b, long bytes)
    {
        const int Chunk = 1 << 30;
        for (long offset = 0; offset < bytes; offset += Chunk)
        {
            int n = (int)Math.Min(Chunk, bytes - offset);
            if (!new ReadOnlySpan<byte>((byte*)a + offset, n).SequenceEqual(new ReadOnlySpan<byte>((byte*)b + offset, n))) return false;
        }
        return true;
    }
}
