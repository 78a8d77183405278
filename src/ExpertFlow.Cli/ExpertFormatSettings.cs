using System.CommandLine;
using ExpertFlow.Model;

namespace ExpertFlow.Cli;

/// <summary>The <c>--expert-dtype</c> and <c>--expert-group-size</c> options, bound to an <see cref="ExpertFormat"/> (or several, for bench).</summary>
internal sealed class ExpertFormatSettings(bool list = false)
{
    readonly Option<string> dtype = new("--expert-dtype")
    {
        Description = list
            ? "Expert storage formats to measure, comma-separated: bf16 (unquantized), int8 (per output channel), int4 (group-wise, scale and zero point); e.g. bf16,int8,int4."
            : "How routed experts are stored: bf16 (unquantized, in the compute dtype), int8 (symmetric, a scale per output channel) or int4 " +
              "(group-wise scale and zero point, two values per byte). Quantized experts are packed at load, held and copied packed, and dequantized on the device.",
        DefaultValueFactory = _ => "bf16",
    };
    readonly Option<int> groupSize = new("--expert-group-size") { Description = "int4 columns per scale and zero point: 32, 64 or 128.", DefaultValueFactory = _ => 64 };

    public void AddTo(Command command)
    {
        command.Options.Add(dtype);
        command.Options.Add(groupSize);
    }

    public ExpertFormat Bind(ParseResult r) => Parse(r.GetValue(dtype)!, r.GetValue(groupSize));

    public IReadOnlyList<ExpertFormat> BindList(ParseResult r) =>
        r.GetValue(dtype)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(t => Parse(t, r.GetValue(groupSize))).Distinct().ToArray();

    static ExpertFormat Parse(string text, int group)
    {
        try { return ExpertFormat.Parse(text, group); }
        catch (ArgumentException e) { throw new ArgumentException($"--expert-dtype/--expert-group-size: {e.Message}"); }
    }
}
