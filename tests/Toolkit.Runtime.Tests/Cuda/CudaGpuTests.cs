using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using Toolkit.Runtime.Cuda;
using TorchSharp;

namespace Toolkit.Runtime.Tests.Cuda;

/// <summary>The interop against a real GPU and TorchSharp's CUDA tensors (skipped without CUDA).</summary>
[Collection("GPU")]
[Trait("Category", "GPU")]
public class CudaGpuTests
{
    [Fact]
    public void Device_is_described_through_the_driver()
    {
        var driver = Gpu.Require();
        var info = driver.Describe(0);
        Gpu.Report($"device 0: {info.Name}, {info.TotalBytes / (1 << 20)} MiB total, {info.FreeBytes / (1 << 20)} MiB free, driver {driver.DriverVersionText}, {driver.DeviceCount} device(s)");
        Assert.False(string.IsNullOrWhiteSpace(info.Name));
        Assert.InRange(info.FreeBytes, 1, info.TotalBytes);
        Assert.Equal(driver.DeviceTotalMemory(0), info.TotalBytes);
    }

    [Fact]
    public void Error_table_agrees_with_the_driver()
    {
        Gpu.Require();
        Assert.True(CudaDriver.LibraryLoaded);
        foreach (int code in CudaErrors.KnownCodes)
            Assert.Equal(CudaErrors.FallbackName(code), CudaErrors.Name(code));
    }

    [Fact]
    public void Stream_priorities_follow_the_device_range()
    {
        var driver = Gpu.Require();
        using var context = driver.RetainPrimaryContext(0);
        var (least, greatest) = context.StreamPriorityRange();
        Gpu.Report($"stream priority range: least {least}, greatest {greatest}");
        Assert.True(greatest <= least);
        using var high = CudaStream.Create(context, CudaStreamPriority.High);
        using var low = CudaStream.Create(context, CudaStreamPriority.Low);
        Assert.Equal(greatest, high.Priority);
        Assert.Equal(least, low.Priority);
        Assert.Throws<ArgumentOutOfRangeException>(() => CudaStream.CreateWithPriority(context, greatest - 1));
    }

    [Fact]
    public void Round_trip_host_to_tensor_to_host_keeps_every_byte()
    {
        var driver = Gpu.Require();
        using var context = driver.RetainPrimaryContext(0);
        const long Bytes = (64L << 20) + 13;
        using var source = PinnedHostBuffer.Allocate(context, Bytes);
        using var back = PinnedHostBuffer.Allocate(context, Bytes);
        Gpu.FillPattern(source.Pointer, Bytes, seed: 1);
        back.AsSpan().Clear();
        using var tensor = torch.zeros(Bytes, dtype: torch.uint8, device: Gpu.Cuda0);
        torch.cuda.synchronize(Gpu.Cuda0);
        using var stream = CudaStream.Create(context, CudaStreamPriority.High);
        using var done = CudaEvent.Create(context);
        stream.CopyToTensor(source, 0, tensor);
        stream.CopyFromTensor(tensor, back, 0);
        stream.Record(done);
        done.Synchronize();
        Assert.True(done.IsComplete);
        Assert.True(source.AsSpan().SequenceEqual(back.AsSpan()));
        // The bytes are in the tensor's storage, as TorchSharp sees them.
        using var onHost = tensor.cpu();
        Assert.True(source.AsSpan().SequenceEqual(onHost.bytes));
    }

    [Fact]
    public void Copy_into_a_slot_of_a_larger_tensor_touches_only_that_slot()
    {
        var driver = Gpu.Require();
        using var context = driver.RetainPrimaryContext(0);
        const int SlotBytes = 1 << 20;
        using var slots = torch.zeros(4, SlotBytes, dtype: torch.uint8, device: Gpu.Cuda0);
        using var slot = slots[2];
        using var source = PinnedHostBuffer.Allocate(context, 2 * SlotBytes);
        Gpu.FillPattern(source.Pointer, 2 * SlotBytes, seed: 2);
        torch.cuda.synchronize(Gpu.Cuda0);
        using var stream = CudaStream.Create(context);
        stream.CopyToTensor(source, SlotBytes, slot); // the second half of the buffer
        stream.Synchronize();
        using var all = slots.cpu();
        Assert.True(all[2].bytes.SequenceEqual(source.AsSpan(SlotBytes, SlotBytes)));
        foreach (int other in new[] { 0, 1, 3 }) Assert.Equal(0, all[other].sum().item<long>());
        // A tensor larger than the host range, a range past the end and a host tensor are refused before any copy is queued.
        var tooBig = Assert.Throws<ArgumentOutOfRangeException>(() => stream.CopyToTensor(source, 0, slots));
        Assert.Contains("does not fit in 'source'", tooBig.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => stream.CopyToTensor(source, SlotBytes + 1, slot));
        using var onCpu = torch.zeros(SlotBytes, dtype: torch.uint8);
        Assert.Throws<ArgumentException>(() => stream.CopyToTensor(source, 0, onCpu));
    }

    [Fact]
    public unsafe void Registered_host_memory_copies_and_double_registration_is_a_named_error()
    {
        var driver = Gpu.Require();
        using var context = driver.RetainPrimaryContext(0);
        const long Bytes = 32L << 20;
        void* memory = NativeMemory.AlignedAlloc((nuint)Bytes, 4096);
        try
        {
            Gpu.FillPattern((IntPtr)memory, Bytes, seed: 3);
            using var registration = HostRegistration.Register(context, (IntPtr)memory, Bytes);
            var e = Assert.Throws<CudaException>(() => HostRegistration.Register(context, (IntPtr)memory, Bytes));
            Assert.Equal("cuMemHostRegister_v2", e.Call);
            Assert.Equal("CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED", e.CodeName);
            using var tensor = torch.zeros(Bytes / 4, dtype: torch.int32, device: Gpu.Cuda0);
            torch.cuda.synchronize(Gpu.Cuda0);
            using var stream = CudaStream.Create(context);
            stream.CopyToTensor(registration, 0, tensor);
            stream.Synchronize();
            using var onHost = tensor.cpu();
            Assert.True(new ReadOnlySpan<byte>(memory, (int)Bytes).SequenceEqual(onHost.bytes));
        }
        finally { NativeMemory.AlignedFree(memory); }
    }

    [Fact]
    public unsafe void Memory_mapped_file_region_registers_read_only_and_copies()
    {
        var driver = Gpu.Require();
        using var context = driver.RetainPrimaryContext(0);
        const int Bytes = 16 << 20;
        string path = Path.GetTempFileName();
        try
        {
            var content = new byte[Bytes];
            new Random(4).NextBytes(content);
            File.WriteAllBytes(path, content);
            using var file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            using var view = file.CreateViewAccessor(0, Bytes, MemoryMappedFileAccess.Read);
            byte* start = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
            try
            {
                IntPtr region = (IntPtr)(start + view.PointerOffset);
                using var registration = HostRegistration.Register(context, region, Bytes, readOnly: true);
                using var tensor = torch.zeros(Bytes, dtype: torch.uint8, device: Gpu.Cuda0);
                torch.cuda.synchronize(Gpu.Cuda0);
                using var stream = CudaStream.Create(context);
                stream.CopyToTensor(registration, 0, tensor);
                stream.Synchronize();
                using var onHost = tensor.cpu();
                Assert.True(content.AsSpan().SequenceEqual(onHost.bytes));
            }
            finally { view.SafeMemoryMappedViewHandle.ReleasePointer(); }
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void TorchSharp_waits_for_the_copy_stream_event_before_reading()
    {
        var driver = Gpu.Require();
        using var context = driver.RetainPrimaryContext(0);
        const int N = 16 << 20; // 64 MiB of float32
        using var source = PinnedHostBuffer.Allocate(context, 4L * N);
        var values = MemoryMarshal.Cast<byte, float>(source.AsSpan());
        for (int i = 0; i < N; i++) values[i] = i % 1000 * 0.5f;
        double expected = 0;
        for (int i = 0; i < N; i++) expected += values[i];
        using var weights = torch.zeros(N, dtype: torch.float32, device: Gpu.Cuda0);
        torch.cuda.synchronize(Gpu.Cuda0);
        using var stream = CudaStream.Create(context, CudaStreamPriority.High);
        using var loaded = CudaEvent.Create(context);
        stream.CopyToTensor(source, 0, weights);
        stream.Record(loaded);
        TorchDefaultStream.Wait(loaded); // no CPU wait: the GPU orders the sum after the copy
        using var sum = weights.to_type(torch.float64).sum();
        Assert.Equal(expected, sum.item<double>(), 1e-6);
    }

    [Fact]
    public void Copy_stream_waits_for_TorchSharp_before_reading_a_slot()
    {
        var driver = Gpu.Require();
        using var context = driver.RetainPrimaryContext(0);
        using var a = torch.ones(4096, 4096, dtype: torch.float32, device: Gpu.Cuda0);
        using var slot = torch.zeros(4096, 4096, dtype: torch.float32, device: Gpu.Cuda0);
        torch.cuda.synchronize(Gpu.Cuda0);
        using var back = PinnedHostBuffer.Allocate(context, 4L * 4096 * 4096);
        back.AsSpan().Clear();
        using var stream = CudaStream.Create(context);
        using var computed = CudaEvent.Create(context);
        // Several milliseconds of kernels, then the slot is written: a copy that did not wait would read zeros.
        using (var scope = torch.NewDisposeScope())
        {
            var x = a;
            for (int i = 0; i < 8; i++) x = torch.matmul(x, a).div_(4096);
            slot.copy_(x.add(2));
        }
        TorchDefaultStream.Record(computed);
        stream.Wait(computed);
        stream.CopyFromTensor(slot, back, 0);
        stream.Synchronize();
        var floats = MemoryMarshal.Cast<byte, float>(back.AsSpan());
        Assert.Equal(3f, floats[0]);
        Assert.Equal(3f, floats[^1]);
    }

    [Fact]
    public void Timing_events_measure_and_sync_events_refuse_to()
    {
        var driver = Gpu.Require();
        using var context = driver.RetainPrimaryContext(0);
        using var stream = CudaStream.Create(context);
        using var start = CudaEvent.Create(context, timing: true);
        using var end = CudaEvent.Create(context, timing: true);
        using var plain = CudaEvent.Create(context);
        using var device = CudaDeviceBuffer.Allocate(context, 256L << 20);
        using var host = PinnedHostBuffer.Allocate(context, 256L << 20);
        start.Record(stream);
        stream.CopyToDevice(host, 0, device, 0, host.Length);
        end.Record(stream);
        plain.Record(stream);
        end.Synchronize();
        Assert.True(end.IsComplete);
        float ms = CudaEvent.ElapsedMilliseconds(start, end);
        Assert.InRange(ms, 0.01f, 10_000f);
        Assert.Throws<ArgumentException>(() => CudaEvent.ElapsedMilliseconds(start, plain));
    }
}
