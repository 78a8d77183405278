namespace Toolkit.Runtime.Cuda;

/// <summary>
/// A CUDA driver call failed. The message names the call, the CUresult name and code, the driver's
/// description, and what to do about it.
/// </summary>
public class CudaException : Exception
{
    /// <summary>The driver function that failed, e.g. "cuMemHostAlloc".</summary>
    public string Call { get; }

    /// <summary>The CUresult code (0 is success; never 0 here).</summary>
    public int Code { get; }

    /// <summary>The CUresult name, e.g. "CUDA_ERROR_OUT_OF_MEMORY".</summary>
    public string CodeName { get; }

    public CudaException(string call, int code, string codeName, string message, Exception? inner = null)
        : base(message, inner) => (Call, Code, CodeName) = (call, code, codeName);

    /// <summary>Builds the exception for a failed call, with name, description and advice.</summary>
    public static CudaException FromResult(string call, int code, string? context = null)
    {
        string name = CudaErrors.Name(code);
        string where = context is null ? call : $"{call} ({context})";
        string message = $"{where} failed with {name} ({code}): {CudaErrors.Description(code)}. {CudaErrors.Advice(code)}";
        return new CudaException(call, code, name, message);
    }
}

/// <summary>CUDA cannot be used here (no driver library, no device). The message says why.</summary>
public sealed class CudaNotAvailableException(string reason)
    : CudaException("CudaDriver.Open", 0, "CUDA_NOT_AVAILABLE", "CUDA is not available: " + reason);
