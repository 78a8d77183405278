using TorchSharp;

namespace Toolkit.Runtime.Tests;

public class LibTorchTests
{
    static Func<string, string?> Env(params (string Key, string Value)[] vars) =>
        key => vars.FirstOrDefault(v => v.Key == key).Value;

    [Fact]
    public void No_variables_means_the_bundled_libtorch() =>
        Assert.Null(LibTorch.Discover(Env(), () => throw new InvalidOperationException("python must not be asked")));

    [Fact]
    public void LIBTORCH_must_hold_lib_libtorch_so()
    {
        string root = Directory.CreateTempSubdirectory().FullName;
        try
        {
            var e = Assert.Throws<LibTorchException>(() => LibTorch.Discover(Env(("LIBTORCH", root)), () => null));
            Assert.Contains("libtorch.so", e.Message);
            Directory.CreateDirectory(Path.Combine(root, "lib"));
            File.WriteAllBytes(Path.Combine(root, "lib", "libtorch.so"), []);
            var found = LibTorch.Discover(Env(("LIBTORCH", root)), () => null)!;
            Assert.Equal(Path.Combine(root, "lib"), found.LibDirectory);
            Assert.Equal("LIBTORCH", found.Source);
            Assert.False(found.HasCuda);
            File.WriteAllBytes(Path.Combine(root, "lib", "libtorch_cuda.so"), []);
            Assert.True(LibTorch.Discover(Env(("LIBTORCH", root)), () => null)!.HasCuda);
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void LIBTORCH_pointing_nowhere_is_a_clear_error()
    {
        var e = Assert.Throws<LibTorchException>(() => LibTorch.Discover(Env(("LIBTORCH", "/no/such/torch")), () => null));
        Assert.Contains("/no/such/torch", e.Message);
        Assert.Contains("LIBTORCH", e.Message);
    }

    [Fact]
    public void LIBTORCH_USE_PYTORCH_asks_python()
    {
        string root = Directory.CreateTempSubdirectory().FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "lib"));
            File.WriteAllBytes(Path.Combine(root, "lib", "libtorch.so"), []);
            var found = LibTorch.Discover(Env(("LIBTORCH_USE_PYTORCH", "1")), () => root)!;
            Assert.Equal("LIBTORCH_USE_PYTORCH", found.Source);
            var e = Assert.Throws<LibTorchException>(() => LibTorch.Discover(Env(("LIBTORCH_USE_PYTORCH", "1")), () => null));
            Assert.Contains("python3", e.Message);
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void Device_option_parses_and_reports_missing_cuda()
    {
        Assert.Equal(DeviceType.CPU, ComputeDevice.Resolve("cpu").type);
        Assert.Throws<ArgumentException>(() => ComputeDevice.Resolve("tpu"));
        Assert.Throws<ArgumentException>(() => ComputeDevice.Resolve("cuda:x"));
        if (!torch.cuda.is_available())
        {
            Assert.Equal(DeviceType.CPU, ComputeDevice.Resolve("auto").type);
            var e = Assert.Throws<LibTorchException>(() => ComputeDevice.Resolve("cuda"));
            Assert.Contains("LIBTORCH", e.Message);
        }
        else Assert.Equal(DeviceType.CUDA, ComputeDevice.Resolve("auto").type);
    }
}
