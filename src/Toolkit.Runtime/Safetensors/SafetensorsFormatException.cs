namespace Toolkit.Runtime.Safetensors;

/// <summary>
/// A safetensors file or checkpoint index is malformed, or a requested tensor is not in it. The message
/// names the file, the tensor (when one is concerned) and what is wrong. Derives from IOException because
/// System.IO.InvalidDataException is sealed.
/// </summary>
public sealed class SafetensorsFormatException : IOException
{
    public SafetensorsFormatException(string filePath, string? tensorName, string problem, Exception? inner = null)
        : base(Compose(filePath, tensorName, problem), inner)
    {
        FilePath = filePath;
        TensorName = tensorName;
        Problem = problem;
    }

    /// <summary>The file concerned.</summary>
    public string FilePath { get; }

    /// <summary>The tensor concerned, if any.</summary>
    public string? TensorName { get; }

    /// <summary>What is wrong, without the file and tensor names.</summary>
    public string Problem { get; }

    static string Compose(string filePath, string? tensorName, string problem) =>
        tensorName is null
            ? $"Safetensors file '{filePath}': {problem}"
            : $"Safetensors file '{filePath}', tensor '{tensorName}': {problem}";
}
