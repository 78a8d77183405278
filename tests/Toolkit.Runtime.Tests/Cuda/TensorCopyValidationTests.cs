using System.Runtime.InteropServices;
using Toolkit.Runtime.Cuda;
using TorchSharp;

namespace Toolkit.Runtime.Tests.Cuda;

/// <summary>The checks every tensor copy goes through before any driver call (they run without a GPU).</summary>
public class TensorCopyValidationTests
{
    public TensorCopyValidationTests() => LibTorch.EnsureLoaded();

    [Fact]
    public void Non_contiguous_tensor_is_refused()
    {
        using var t = torch.zeros(4, 6).t();
        var e = Assert.Throws<ArgumentException>(() => TensorMemory.DeviceAddress(t, 0, 96, "destination"));
        Assert.Equal("destination", e.ParamName);
        Assert.Contains("not contiguous", e.Message);
        Assert.Contains("shape [6, 4]", e.Message);
    }

    [Fact]
    public void Size_mismatch_is_refused()
    {
        using var t = torch.zeros(10, dtype: torch.float32);
        var e = Assert.Throws<ArgumentException>(() => TensorMemory.DeviceAddress(t, 0, 44, "destination"));
        Assert.Contains("holds 40 bytes", e.Message);
        Assert.Contains("moves 44 bytes", e.Message);
    }

    [Fact]
    public void Tensor_on_the_wrong_device_is_refused()
    {
        using var t = torch.zeros(10, dtype: torch.float32);
        var e = Assert.Throws<ArgumentException>(() => TensorMemory.DeviceAddress(t, 0, 40, "source"));
        Assert.Equal("source", e.ParamName);
        Assert.Contains("is on cpu", e.Message);
        Assert.Contains("cuda:0", e.Message);
    }

    [Fact]
    public void Address_without_a_size_still_checks_layout_and_device()
    {
        using var t = torch.zeros(3, 5, dtype: torch.bfloat16);
        Assert.Equal(30, TensorMemory.ByteSize(t));
        using var columns = t.narrow(1, 1, 2);
        Assert.Contains("not contiguous", Assert.Throws<ArgumentException>(() => TensorMemory.DeviceAddress(columns, 0)).Message);
        Assert.Contains("is on cpu", Assert.Throws<ArgumentException>(() => TensorMemory.DeviceAddress(t, 0)).Message);
    }

    [Fact]
    public void Disposed_tensor_is_refused()
    {
        var t = torch.zeros(10);
        t.Dispose();
        Assert.Throws<ObjectDisposedException>(() => TensorMemory.ByteSize(t, "destination"));
    }

    [Fact]
    public void Data_pointer_addresses_the_tensor_storage_including_slices()
    {
        using var t = torch.arange(0, 100, dtype: torch.int32);
        using var slot = t.narrow(0, 10, 20);
        IntPtr start = TensorMemory.DataPointer(t);
        IntPtr slotStart = TensorMemory.DataPointer(slot);
        Assert.Equal(40, slotStart - start);
        Assert.Equal(10, Marshal.ReadInt32(slotStart));
        Marshal.WriteInt32(slotStart, 4, -7); // element 11, written through the pointer, read through TorchSharp
        Assert.Equal(-7, t[11].item<int>());
    }

    [Theory]
    [InlineData(100, 0, 100, true)]
    [InlineData(100, 60, 40, true)]
    [InlineData(100, 100, 0, true)]
    [InlineData(100, 61, 40, false)]
    [InlineData(100, -1, 10, false)]
    [InlineData(100, 0, -1, false)]
    [InlineData(100, 101, 0, false)]
    [InlineData(long.MaxValue, long.MaxValue - 1, 2, false)]
    public void Host_ranges_must_fit(long length, long offset, long count, bool fits)
    {
        if (fits) TensorMemory.CheckHostRange(length, offset, count, "source");
        else
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => TensorMemory.CheckHostRange(length, offset, count, "source"));
            Assert.Contains($"holds {length} bytes", e.Message);
        }
    }
}
