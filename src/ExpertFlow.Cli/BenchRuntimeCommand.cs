using System.CommandLine;
using ExpertFlow.Evaluation;
using ExpertFlow.Model;
using Spectre.Console;
using Toolkit.Cli;
using Toolkit.Runtime;

namespace ExpertFlow.Cli;

/// <summary>
/// <c>expertflow bench-runtime</c>: decode throughput of a Qwen1.5-MoE-A2.7B-shaped model with random weights built
/// in-process, everything resident (<see cref="RuntimeBenchmark"/>).
/// </summary>
internal static class BenchRuntimeCommand
{
    public static Command Create()
    {
        var layers = new Option<int>("--layers") { Description = "Decoder layers (24 = the real model).", DefaultValueFactory = _ => 24 };
        var batches = new Option<string>("--batch") { Description = "Comma-separated batch sizes.", DefaultValueFactory = _ => "1,16" };
        var promptTokens = new Option<int>("--prompt-tokens") { Description = "Random prompt length.", DefaultValueFactory = _ => 32 };
        var newTokens = new Option<int>("--new-tokens") { Description = "Tokens generated per sequence.", DefaultValueFactory = _ => 32 };
        var dtype = new Option<string>("--dtype") { Description = "fp32, fp16 or bf16.", DefaultValueFactory = _ => "bf16" };
        var paths = new Option<string>("--paths") { Description = "Expert execution: stacked (resident fast kernels), grouped (through OnRouted/Get), or both.", DefaultValueFactory = _ => "both" };
        var graphsOpt = new Option<string>("--cuda-graphs") { Description = "Decode from CUDA graphs with the stacked path: on, off, or both (one row each).", DefaultValueFactory = _ => "both" };
        var fusedOpt = new Option<string>("--fused-kernels") { Description = "On CUDA in bf16/fp16, libtorch's fused rms_norm and grouped expert GEMM: on, off (transformers' op sequence), or both (one row each).", DefaultValueFactory = _ => "on" };
        var small = new Option<bool>("--small") { Description = "A small model of the same structure (hidden 256, vocab 4096) for a CPU smoke run." };
        var json = new Option<string?>("--json") { Description = "Write the results to this JSON file." };
        var device = CommonOptions.Device();
        var command = new Command("bench-runtime", "Decode tokens/s and memory of a Qwen1.5-MoE-A2.7B-shaped model with random weights (all experts resident).")
        {
            layers, batches, promptTokens, newTokens, dtype, paths, graphsOpt, fusedOpt, small, json, device,
        };
        command.SetAction(r =>
        {
            var options = new RuntimeBenchmarkOptions
            {
                Device = ComputeDevice.Resolve(r.GetValue(device)!), DType = MoeModels.ParseDType(r.GetValue(dtype)!), Layers = r.GetValue(layers),
                Batches = OptionValues.Ints(r.GetValue(batches)!, "--batch", 1), PromptTokens = r.GetValue(promptTokens), NewTokens = r.GetValue(newTokens),
                Paths = r.GetValue(paths) == "both" ? RuntimeBenchmarkOptions.KnownPaths : [OptionValues.Choice(r.GetValue(paths)!, "--paths", "stacked", "grouped", "both")],
                CudaGraphModes = OptionValues.OnOffBoth(r.GetValue(graphsOpt)!, "--cuda-graphs"), FusedKernelModes = OptionValues.OnOffBoth(r.GetValue(fusedOpt)!, "--fused-kernels"),
                Small = r.GetValue(small),
            };
            var result = RuntimeBenchmark.Run(options, new SynchronousProgress<string>(m => AnsiConsole.MarkupLine($"[grey]{Markup.Escape(m)}[/]")));
            if (result.GraphsOffBecause is { } off) AnsiConsole.MarkupLineInterpolated($"[yellow]CUDA graphs were off: {off}[/]");
            var table = new Table().AddColumns("path", "batch", "decode tok/s", "overall tok/s", "prefill ms", "tensors/step");
            foreach (var row in result.Rows)
                table.AddRow(row.Path, row.Batch.ToString(), row.DecodeTokensPerSecond.ToString("F1"), row.TokensPerSecond.ToString("F1"), (row.PrefillSeconds * 1000).ToString("F0"), row.TensorsPerStep.ToString());
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLineInterpolated($"weights read per batch-1 token: {result.BytesPerTokenBatch1 / 1e9:F2} GB; device copy bandwidth {result.CopyBandwidthBytesPerSecond / 1e12:F2} TB/s -> bandwidth limit {result.BandwidthLimitTokensPerSecond:F0} tok/s; device memory held {result.DeviceMemoryBytes / (double)(1L << 30):F1} GiB");
            if (r.GetValue(json) is string path) result.WriteJson(path);
            return 0;
        });
        return command;
    }
}
