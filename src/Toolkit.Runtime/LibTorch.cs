using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;

namespace Toolkit.Runtime;

/// <summary>Where a libtorch was found, and how.</summary>
/// <param name="LibDirectory">Folder holding libtorch.so, libc10.so (and the CUDA ones, if any).</param>
/// <param name="Source">How it was found: "LIBTORCH", "LIBTORCH_USE_PYTORCH" or "bundled".</param>
public sealed record LibTorchLocation(string LibDirectory, string Source)
{
    /// <summary>True when this libtorch has CUDA kernels (libtorch_cuda.so is present).</summary>
    public bool HasCuda => File.Exists(Path.Combine(LibDirectory, "libtorch_cuda.so"));
}

/// <summary>Raised when a libtorch cannot be found or loaded; the message says what to set.</summary>
public sealed class LibTorchException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Finds and loads libtorch before TorchSharp initialises. Convention (as Rust's tch): the environment
/// variable LIBTORCH names a libtorch folder or a PyTorch 'torch' folder (its lib/ holds the .so files);
/// LIBTORCH_USE_PYTORCH=1 asks python3 where torch is. Without either, the CPU libtorch copied into the
/// build output (package libtorch-cpu-linux-x64, or TorchSharp-cpu for other platforms; see build/TorchSharp.targets) is used.
/// </summary>
public static class LibTorch
{
    static readonly Lock Gate = new();
    static LibTorchLocation? loaded;

    /// <summary>The libtorch in use after <see cref="EnsureLoaded"/>.</summary>
    public static LibTorchLocation? Loaded => loaded;

    /// <summary>
    /// Resolves the libtorch location from the environment. Pure apart from the file checks, so it can be
    /// tested with fake variables. Returns null when neither variable is set (use the bundled CPU libtorch).
    /// </summary>
    public static LibTorchLocation? Discover(Func<string, string?> getEnvironment, Func<string?> askPythonForTorch)
    {
        string? root = getEnvironment("LIBTORCH");
        string source = "LIBTORCH";
        if (string.IsNullOrWhiteSpace(root))
        {
            string? usePython = getEnvironment("LIBTORCH_USE_PYTORCH");
            if (usePython is not ("1" or "true" or "TRUE" or "yes")) return null;
            source = "LIBTORCH_USE_PYTORCH";
            root = askPythonForTorch();
            if (string.IsNullOrWhiteSpace(root))
                throw new LibTorchException(
                    "LIBTORCH_USE_PYTORCH=1 is set, but python3 could not report where torch is installed " +
                    "(python3 -c 'import torch' failed). Install PyTorch for python3, or set LIBTORCH to a libtorch folder.");
        }
        root = root.Trim();
        if (!Directory.Exists(root))
            throw new LibTorchException($"{source} points to '{root}', which is not a folder. Set LIBTORCH to a libtorch folder or a PyTorch 'torch' folder (one with lib/libtorch.so).");
        string lib = Path.Combine(root, "lib");
        if (!File.Exists(Path.Combine(lib, "libtorch.so")))
            throw new LibTorchException($"{source} points to '{root}', but '{lib}' holds no libtorch.so. Point LIBTORCH at the folder that contains lib/libtorch.so (for PyTorch: the 'torch' package folder).");
        return new LibTorchLocation(lib, source);
    }

    /// <summary>Asks python3 for the folder of its torch package; null when that fails.</summary>
    public static string? AskPythonForTorch()
    {
        try
        {
            var info = new ProcessStartInfo("python3", "-c \"import torch, os; print(os.path.dirname(torch.__file__))\"")
            { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            using var process = Process.Start(info);
            if (process == null) return null;
            string output = process.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit(60_000);
            return process.ExitCode == 0 && output.Length > 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception) { return null; } // python3 not installed
    }

    /// <summary>
    /// Loads the discovered libtorch (if any) and initialises TorchSharp, once per process. Call before any
    /// other TorchSharp use. Returns the location in use (the bundled CPU libtorch when none was configured).
    /// </summary>
    public static LibTorchLocation EnsureLoaded(ILogger? log = null)
    {
        log ??= NullLogger.Instance;
        lock (Gate)
        {
            if (loaded != null) return loaded;
            var found = Discover(Environment.GetEnvironmentVariable, AskPythonForTorch);
            if (found != null)
            {
                // Load the libraries by absolute path first: LibTorchSharp's own dependencies then resolve
                // to these (the loader matches by soname), not to the CPU copies shipped with the package.
                foreach (var name in new[] { "libc10.so", "libc10_cuda.so", "libtorch_cpu.so", "libtorch_cuda.so", "libtorch.so" })
                {
                    string path = Path.Combine(found.LibDirectory, name);
                    if (!File.Exists(path)) continue;
                    try { NativeLibrary.Load(path); }
                    catch (DllNotFoundException e)
                    { throw new LibTorchException($"Could not load {path} (found through {found.Source}): {e.Message}. Check that its CUDA/driver libraries are installed and on LD_LIBRARY_PATH.", e); }
                }
                log.LogInformation("libtorch from {Folder} (via {Source}, CUDA kernels: {Cuda})", found.LibDirectory, found.Source, found.HasCuda);
            }
            try
            {
                if (found?.HasCuda == true) torch.InitializeDeviceType(DeviceType.CUDA);
                else torch.InitializeDeviceType(DeviceType.CPU);
            }
            catch (Exception e) when (e is NotSupportedException or TypeInitializationException or DllNotFoundException)
            {
                throw new LibTorchException(
                    "TorchSharp could not load its native library (libLibTorchSharp.so). Build with this repository's " +
                    "build files (they fix a libstdc++ version need on Debian 12), or set LIBTORCH to a CUDA libtorch. " +
                    "Details: " + FirstLine(e), e);
            }
            loaded = found ?? new LibTorchLocation(Path.GetDirectoryName(typeof(torch).Assembly.Location) ?? "", "bundled");
            return loaded;
        }
    }

    static string FirstLine(Exception e)
    {
        var inner = e.InnerException ?? e;
        return inner.Message.Split('\n')[0];
    }
}
