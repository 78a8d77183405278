using TorchSharp;

namespace Toolkit.Runtime.Safetensors;

/// <summary>Element types of the safetensors format (the names are the header's "dtype" strings).</summary>
public enum SafetensorsDType
{
    F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL,
    /// <summary>8-bit float (e4m3fn). TorchSharp 0.107 has no FP8 type: exposed as raw bytes only.</summary>
    F8_E4M3,
    /// <summary>8-bit float (e5m2). TorchSharp 0.107 has no FP8 type: exposed as raw bytes only.</summary>
    F8_E5M2,
}

/// <summary>Sizes, header names and TorchSharp equivalents of <see cref="SafetensorsDType"/>.</summary>
public static class SafetensorsDTypes
{
    /// <summary>Bytes per element.</summary>
    public static int ElementSize(this SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.F64 or SafetensorsDType.I64 => 8,
        SafetensorsDType.F32 or SafetensorsDType.I32 => 4,
        SafetensorsDType.F16 or SafetensorsDType.BF16 or SafetensorsDType.I16 => 2,
        SafetensorsDType.I8 or SafetensorsDType.U8 or SafetensorsDType.BOOL
            or SafetensorsDType.F8_E4M3 or SafetensorsDType.F8_E5M2 => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Not a safetensors dtype."),
    };

    /// <summary>The string written in the header's "dtype" field.</summary>
    public static string HeaderName(this SafetensorsDType dtype) =>
        Enum.IsDefined(dtype) ? dtype.ToString() : throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Not a safetensors dtype.");

    /// <summary>Parses a header "dtype" string (exact, case-sensitive; numbers are not accepted).</summary>
    public static bool TryParse(string? headerName, out SafetensorsDType dtype)
    {
        foreach (SafetensorsDType candidate in Enum.GetValues<SafetensorsDType>())
        {
            if (string.Equals(candidate.ToString(), headerName, StringComparison.Ordinal))
            {
                dtype = candidate;
                return true;
            }
        }
        dtype = default;
        return false;
    }

    /// <summary>True for dtypes that TorchSharp cannot hold (FP8): read them with GetBytes/GetPointer.</summary>
    public static bool IsRawOnly(this SafetensorsDType dtype) => dtype is SafetensorsDType.F8_E4M3 or SafetensorsDType.F8_E5M2;

    /// <summary>The TorchSharp scalar type, or null for the raw-only FP8 types.</summary>
    public static torch.ScalarType? ToScalarType(this SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.F64 => torch.ScalarType.Float64,
        SafetensorsDType.F32 => torch.ScalarType.Float32,
        SafetensorsDType.F16 => torch.ScalarType.Float16,
        SafetensorsDType.BF16 => torch.ScalarType.BFloat16,
        SafetensorsDType.I64 => torch.ScalarType.Int64,
        SafetensorsDType.I32 => torch.ScalarType.Int32,
        SafetensorsDType.I16 => torch.ScalarType.Int16,
        SafetensorsDType.I8 => torch.ScalarType.Int8,
        SafetensorsDType.U8 => torch.ScalarType.Byte,
        SafetensorsDType.BOOL => torch.ScalarType.Bool,
        _ => null,
    };

    /// <summary>The safetensors dtype for a TorchSharp scalar type; false for complex and quantised types.</summary>
    public static bool TryFromScalarType(torch.ScalarType scalarType, out SafetensorsDType dtype)
    {
        SafetensorsDType? found = scalarType switch
        {
            torch.ScalarType.Float64 => SafetensorsDType.F64,
            torch.ScalarType.Float32 => SafetensorsDType.F32,
            torch.ScalarType.Float16 => SafetensorsDType.F16,
            torch.ScalarType.BFloat16 => SafetensorsDType.BF16,
            torch.ScalarType.Int64 => SafetensorsDType.I64,
            torch.ScalarType.Int32 => SafetensorsDType.I32,
            torch.ScalarType.Int16 => SafetensorsDType.I16,
            torch.ScalarType.Int8 => SafetensorsDType.I8,
            torch.ScalarType.Byte => SafetensorsDType.U8,
            torch.ScalarType.Bool => SafetensorsDType.BOOL,
            _ => null,
        };
        dtype = found ?? default;
        return found.HasValue;
    }
}
