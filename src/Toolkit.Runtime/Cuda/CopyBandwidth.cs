using System.Runtime.InteropServices;

namespace Toolkit.Runtime.Cuda;

/// <summary>A measured host-to-device copy bandwidth.</summary>
/// <param name="Pinned">True for page-locked source memory, false for ordinary (pageable) memory.</param>
/// <param name="BytesPerCopy">Size of each copy.</param>
/// <param name="Milliseconds">GPU time of each timed copy (after one untimed warm-up copy).</param>
public sealed record BandwidthMeasurement(bool Pinned, long BytesPerCopy, IReadOnlyList<double> Milliseconds)
{
    /// <summary>Median bandwidth over the repeats, in GB/s (10^9 bytes per second).</summary>
    public double MedianGBps => BytesPerCopy / 1e6 / Median(Milliseconds);

    /// <summary>Best bandwidth over the repeats, in GB/s.</summary>
    public double BestGBps => BytesPerCopy / 1e6 / Milliseconds.Min();

    static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}

/// <summary>Measures host-to-device copy bandwidth with timing events on a copy stream.</summary>
public static class CopyBandwidth
{
    /// <summary>
    /// Copies <paramref name="bytes"/> from host to device <paramref name="repeats"/> times (plus one
    /// warm-up) and times each copy with events. Pinned uses cuMemHostAlloc memory; pageable uses ordinary
    /// memory (touched first so that page faults are not measured).
    /// </summary>
    public static unsafe BandwidthMeasurement MeasureHostToDevice(CudaContext context, long bytes, int repeats, bool pinned)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(repeats);
        using var device = CudaDeviceBuffer.Allocate(context, bytes);
        using var stream = CudaStream.Create(context);
        using var start = CudaEvent.Create(context, timing: true);
        using var end = CudaEvent.Create(context, timing: true);
        PinnedHostBuffer? pinnedBuffer = null;
        void* pageable = null;
        try
        {
            IntPtr source;
            if (pinned)
            {
                pinnedBuffer = PinnedHostBuffer.Allocate(context, bytes);
                source = pinnedBuffer.Pointer;
            }
            else
            {
                pageable = NativeMemory.AlignedAlloc((nuint)bytes, 4096);
                source = (IntPtr)pageable;
            }
            Fill(source, bytes);
            var times = new List<double>(repeats);
            for (int i = 0; i <= repeats; i++)
            {
                start.Record(stream);
                stream.CopyHostToDevice(source, device.Address, bytes);
                end.Record(stream);
                end.Synchronize();
                if (i > 0) times.Add(CudaEvent.ElapsedMilliseconds(start, end));
            }
            return new BandwidthMeasurement(pinned, bytes, times);
        }
        finally
        {
            pinnedBuffer?.Dispose();
            if (pageable != null) NativeMemory.AlignedFree(pageable);
        }
    }

    static unsafe void Fill(IntPtr pointer, long bytes)
    {
        for (long offset = 0; offset < bytes; offset += int.MaxValue / 2)
        {
            int length = (int)Math.Min(int.MaxValue / 2, bytes - offset);
            new Span<byte>((byte*)pointer + offset, length).Fill(0x5A);
        }
    }
}
