namespace Toolkit.Runtime.Safetensors;

/// <summary>
/// One tensor of a safetensors file, as its header describes it (after validation).
/// </summary>
/// <param name="Name">The tensor's name (header key).</param>
/// <param name="DType">Element type.</param>
/// <param name="Shape">Dimensions; empty for a scalar. Treat as read-only.</param>
/// <param name="ByteLength">Bytes of data (elements x element size).</param>
/// <param name="FilePath">Full path of the file holding the data.</param>
/// <param name="FileOffset">Absolute offset of the first data byte in that file (for disk-tier reads).</param>
public sealed record TensorInfo(string Name, SafetensorsDType DType, long[] Shape, long ByteLength, string FilePath, long FileOffset)
{
    /// <summary>Number of elements (1 for a scalar, 0 when any dimension is 0).</summary>
    public long ElementCount => Shape.Aggregate(1L, (product, dim) => product * dim);

    /// <summary>Shape as text, e.g. "[2, 3]".</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";

    public override string ToString() => $"{Name}: {DType} {ShapeText} ({ByteLength} bytes at {FileOffset} in {FilePath})";
}
