using System.Runtime.InteropServices;
using Toolkit.Runtime.Cuda;

namespace Toolkit.Runtime.Tests.Cuda;

public class CudaAvailabilityTests
{
    [Fact]
    public void Missing_driver_library_is_a_clean_answer_not_a_crash()
    {
        Assert.False(CudaDriver.TryOpenCore("libcuda-that-does-not-exist.so.1", out var driver, out string reason));
        Assert.Null(driver);
        Assert.Contains("libcuda-that-does-not-exist.so.1", reason);
        Assert.Contains("Install the NVIDIA driver", reason);
    }

    [Fact]
    public void Availability_agrees_with_the_machine()
    {
        bool hasLibrary = NativeLibrary.TryLoad("libcuda.so.1", out _);
        bool available = CudaDriver.IsAvailable(out string reason);
        if (!hasLibrary)
        {
            Assert.False(available);
            Assert.Contains("libcuda.so.1", reason);
            Assert.False(CudaDriver.TryOpen(out var driver, out _));
            Assert.Null(driver);
            var e = Assert.Throws<CudaNotAvailableException>(() => CudaDriver.Open());
            Assert.Contains("CUDA is not available: libcuda.so.1", e.Message);
        }
        else if (available)
        {
            var driver = CudaDriver.Open();
            Assert.True(driver.DeviceCount >= 1);
            Assert.True(driver.DriverVersion >= 1000, $"driver version {driver.DriverVersion}");
            Assert.Throws<ArgumentOutOfRangeException>(() => driver.DeviceName(driver.DeviceCount));
        }
        else Assert.False(string.IsNullOrWhiteSpace(reason)); // a driver without a usable device says why
    }
}
