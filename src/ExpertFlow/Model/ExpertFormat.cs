namespace ExpertFlow.Model;

/// <summary>How routed experts are stored: unquantized (the compute dtype), int8 or int4.</summary>
public enum ExpertDType
{
    /// <summary>Unquantized: experts kept in the model's compute dtype (bf16 on CUDA).</summary>
    Bf16,
    /// <summary>Symmetric int8, one fp32 scale per output channel (row).</summary>
    Int8,
    /// <summary>Asymmetric int4, two values per byte, an fp16 scale and a 4-bit zero point per group of columns of a row.</summary>
    Int4,
}

/// <summary>
/// The storage format of routed experts, chosen at load time. Quantized experts are packed once (from the
/// checkpoint's values in the compute dtype, or taken from a GPTQ/AWQ checkpoint) and dequantized on the compute device
/// into a scratch of the compute dtype just before their matmuls (<see cref="PackedMatrix"/>).
/// </summary>
/// <param name="Kind">bf16 (unquantized), int8 or int4.</param>
/// <param name="GroupSize">int4 only: columns per scale and zero point (32, 64 or 128).</param>
public sealed record ExpertFormat(ExpertDType Kind = ExpertDType.Bf16, int GroupSize = 64)
{
    public static ExpertFormat Unquantized { get; } = new();
    public static IReadOnlyList<int> GroupSizes { get; } = [32, 64, 128];

    public bool IsQuantized => Kind != ExpertDType.Bf16;

    /// <summary>"bf16", "int8" or "int4-g64".</summary>
    public string Name => Kind switch
    {
        ExpertDType.Int8 => "int8",
        ExpertDType.Int4 => $"int4-g{GroupSize}",
        _ => "bf16",
    };

    public override string ToString() => Name;

    /// <summary>The packed layout of one [rows, cols] weight matrix in this format (throws when cols do not fit the groups).</summary>
    public PackedMatrix Matrix(long rows, long cols) => new(this, rows, cols);

    /// <summary>Parses bf16, int8 or int4 (an int4 group size of 32, 64 or 128; "int4-g128" names it inline).</summary>
    public static ExpertFormat Parse(string text, int groupSize = 64)
    {
        string t = text.Trim().ToLowerInvariant();
        if (t.StartsWith("int4-g") && int.TryParse(t[6..], out int g)) { groupSize = g; t = "int4"; }
        var kind = t switch
        {
            "bf16" or "none" => ExpertDType.Bf16,
            "int8" => ExpertDType.Int8,
            "int4" => ExpertDType.Int4,
            _ => throw new ArgumentException($"'{text}' is not an expert format; use bf16, int8 or int4."),
        };
        if (kind == ExpertDType.Int4 && !GroupSizes.Contains(groupSize))
            throw new ArgumentException($"int4 group size {groupSize} is not supported; use 32, 64 or 128.");
        return new ExpertFormat(kind, kind == ExpertDType.Int4 ? groupSize : 64);
    }
}
