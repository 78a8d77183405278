using Toolkit.Runtime.Cuda;

namespace Toolkit.Runtime.Tests.Cuda;

public class CudaErrorTests
{
    [Fact]
    public void Failed_call_names_the_call_the_code_and_what_to_do()
    {
        var e = Assert.Throws<CudaException>(() => CudaErrors.Check(CudaErrors.OutOfMemory, "cuMemHostAlloc", "1073741824 bytes"));
        Assert.Equal("cuMemHostAlloc", e.Call);
        Assert.Equal(2, e.Code);
        Assert.Equal("CUDA_ERROR_OUT_OF_MEMORY", e.CodeName);
        Assert.StartsWith("cuMemHostAlloc (1073741824 bytes) failed with CUDA_ERROR_OUT_OF_MEMORY (2): ", e.Message);
        Assert.Contains("out of memory", e.Message);
        Assert.Contains("Free GPU", e.Message);
    }

    [Fact]
    public void Success_passes()
    {
        CudaErrors.Check(CudaErrors.Success, "cuInit");
        CudaErrors.CheckRelease(CudaErrors.Success, "cuStreamDestroy_v2");
    }

    [Theory]
    [InlineData(1, "CUDA_ERROR_INVALID_VALUE", "check the values")]
    [InlineData(3, "CUDA_ERROR_NOT_INITIALIZED", "CudaDriver.Open")]
    [InlineData(34, "CUDA_ERROR_STUB_LIBRARY", "stub")]
    [InlineData(100, "CUDA_ERROR_NO_DEVICE", "CUDA_VISIBLE_DEVICES")]
    [InlineData(201, "CUDA_ERROR_INVALID_CONTEXT", "MakeCurrent")]
    [InlineData(400, "CUDA_ERROR_INVALID_HANDLE", "disposed")]
    [InlineData(700, "CUDA_ERROR_ILLEGAL_ADDRESS", "restart the process")]
    [InlineData(712, "CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED", "register each region once")]
    [InlineData(801, "CUDA_ERROR_NOT_SUPPORTED", "PinnedHostBuffer")]
    public void Codes_translate_to_names_and_advice(int code, string name, string advice)
    {
        var e = CudaException.FromResult("cuSomething", code);
        Assert.Equal(name, e.CodeName);
        Assert.Contains($"{name} ({code})", e.Message);
        Assert.Contains(advice, e.Message);
    }

    [Fact]
    public void Unknown_code_still_reads_clearly()
    {
        var e = CudaException.FromResult("cuStreamSynchronize", 12345);
        Assert.Equal("CUresult 12345", e.CodeName);
        Assert.Contains("cuStreamSynchronize failed with CUresult 12345 (12345)", e.Message);
        Assert.Contains("cuda.h", e.Message);
    }

    [Fact]
    public void Release_ignores_a_driver_that_is_shutting_down_but_not_other_failures()
    {
        CudaErrors.CheckRelease(CudaErrors.Deinitialized, "cuEventDestroy_v2");
        CudaErrors.CheckRelease(CudaErrors.ContextIsDestroyed, "cuEventDestroy_v2");
        var e = Assert.Throws<CudaException>(() => CudaErrors.CheckRelease(CudaErrors.InvalidHandle, "cuEventDestroy_v2"));
        Assert.Equal("cuEventDestroy_v2", e.Call);
    }

    [Fact]
    public void Every_known_code_has_a_distinct_name()
    {
        var names = CudaErrors.KnownCodes.Select(CudaErrors.FallbackName).ToList();
        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.All(names, n => Assert.StartsWith("CUDA_", n));
    }
}
