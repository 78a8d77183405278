using TorchSharp;

namespace Toolkit.Runtime;

/// <summary>Turns the <c>--device auto|cpu|cuda[:N]</c> option into a TorchSharp device.</summary>
public static class ComputeDevice
{
    /// <summary>The accepted spellings, for help texts.</summary>
    public const string Help = "auto (CUDA when present, else CPU), cpu, cuda or cuda:N";

    /// <summary>
    /// Resolves a device specification. Loads libtorch first. "auto" picks CUDA device 0 when CUDA is
    /// available. Asking for CUDA where there is none raises an error that says what to set.
    /// </summary>
    public static torch.Device Resolve(string? spec)
    {
        LibTorch.EnsureLoaded();
        string s = string.IsNullOrWhiteSpace(spec) ? "auto" : spec.Trim().ToLowerInvariant();
        if (s == "auto") return torch.cuda.is_available() ? new torch.Device(DeviceType.CUDA, 0) : torch.CPU;
        if (s == "cpu") return torch.CPU;
        if (s == "cuda" || s.StartsWith("cuda:", StringComparison.Ordinal))
        {
            int index = 0;
            if (s.Length > 4 && (!int.TryParse(s.AsSpan(5), out index) || index < 0))
                throw new ArgumentException($"device '{spec}': the CUDA index must be a non-negative integer, as in cuda:0.");
            if (!torch.cuda.is_available())
                throw new LibTorchException(
                    $"device '{spec}' asks for CUDA, but the libtorch in use has no CUDA device " +
                    $"(libtorch: {LibTorch.Loaded?.LibDirectory} via {LibTorch.Loaded?.Source}). " +
                    "Set LIBTORCH to a CUDA libtorch or a PyTorch 'torch' folder (or LIBTORCH_USE_PYTORCH=1 to ask python3), " +
                    "check that an NVIDIA driver is installed, or use the cpu device.");
            int count = torch.cuda.device_count();
            if (index >= count)
                throw new ArgumentException($"device '{spec}': there are only {count} CUDA device(s) (cuda:0 to cuda:{count - 1}).");
            return new torch.Device(DeviceType.CUDA, index);
        }
        throw new ArgumentException($"'{spec}' is not a device. Use {Help}.");
    }
}
