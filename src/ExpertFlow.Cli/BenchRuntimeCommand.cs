using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using ExpertFlow.Model;
using Spectre.Console;
using Toolkit.Cli;
using Toolkit.Runtime;
using Toolkit.Runtime.Cuda;
using TorchSharp;
using static TorchSharp.torch;

namespace ExpertFlow.Cli;

/// <summary>
/// <c>expertflow bench-runtime</c>: decode throughput of a Qwen1.5-MoE-A2.7B-shaped model with random weights built
/// in-process, everything resident, at several batch sizes; the peer script bench/runtime/transformers_peer.py measures
/// Hugging Face transformers on the same shape.
/// </summary>
internal static class BenchRuntimeCommand
{
    public static Command Create()
    {
        var layers = new Option<int>("--layers") { Description = "Decoder layers (24 = the real model).", DefaultValueFactory = _ => 24 };
        var batches = new Option<string>("--batch") { Description = "Comma-separated batch sizes.", DefaultValueFactory = _ => "1,16" };
        var promptTokens = new Option<int>("--prompt-tokens") { DefaultValueFactory = _ => 32 };
        var newTokens = new Option<int>("--new-tokens") { DefaultValueFactory = _ => 32 };
        var dtype = new Option<string>("--dtype") { DefaultValueFactory = _ => "bf16" };
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
        command.SetAction(r => Run(r.GetValue(layers), r.GetValue(batches)!, r.GetValue(promptTokens), r.GetValue(newTokens), r.GetValue(dtype)!,
            r.GetValue(paths)!, r.GetValue(graphsOpt)!, r.GetValue(fusedOpt)!, r.GetValue(small), r.GetValue(json), r.GetValue(device)!));
        return command;
    }

    sealed record Row(string Path, int Batch, double PrefillSeconds, double DecodeSeconds, double DecodeTokensPerSecond, double TokensPerSecond, int DecodeSteps, long TensorsPerStep);

    /// <summary>TorchSharp tensors (kernel outputs and views) one decode step creates: the launch-overhead count.</summary>
    static long TensorsPerDecodeStep(IMoeModel model, int[][] prompts)
    {
        model.ResetCache(prompts.Length, prompts.Max(p => p.Length) + 2);
        using (model.Step(prompts)) { }
        var stats = DisposeScopeManager.Statistics;
        stats.Reset();
        using (model.Step(prompts.Select(p => new[] { p[0] }).ToArray())) { }
        return stats.TensorStatistics.CreatedInScopeCount;
    }

    static int Run(int layers, string batchText, int promptTokens, int newTokens, string dtypeText, string pathsText, string graphsText, string fusedText, bool small, string? jsonPath, string deviceSpec)
    {
        var dev = ComputeDevice.Resolve(deviceSpec);
        var dtype = MoeModels.ParseDType(dtypeText);
        var batchSizes = GenerateCommand.ParseIds(batchText, "--batch");
        string[] paths = pathsText == "both" ? ["stacked", "grouped"] : [pathsText];
        if (paths.Any(p => p is not ("stacked" or "grouped"))) throw new ArgumentException($"--paths {pathsText}: use stacked, grouped or both.");
        bool[] graphModes = Modes(graphsText, "--cuda-graphs");
        bool[] fusedModes = Modes(fusedText, "--fused-kernels");
        var config = MoeConfig.Qwen15MoeA27B(layers);
        if (small) config = config with { HiddenSize = 256, NumHeads = 4, NumKvHeads = 4, HeadDim = 64, VocabSize = 4096, ExpertIntermediateSize = 176, SharedExpertIntermediateSize = 704, IntermediateSize = 704 };
        bool cudaDev = dev.type == DeviceType.CUDA;
        long baseline = cudaDev ? UsedBytes(dev) : 0;

        var rows = new List<Row>();
        double copyBandwidth = cudaDev ? MeasureCopyBandwidth(dev, dtype) : 0;
        long denseBytes = 0, expertBytes = 0, deviceBytes = 0;
        foreach (string path in paths)
        {
            var watch = Stopwatch.StartNew();
            using var model = MoeCausalLM.Create(config, new RandomWeights(seed: 1), new ModelLoadOptions { Device = dev, DType = dtype, Experts = new ResidentExpertProvider(offerStacked: path == "stacked") });
            AnsiConsole.MarkupLineInterpolated($"[grey]{path}: built {config.NumLayers} layers of random {dtype} weights in {watch.Elapsed.TotalSeconds:F1} s[/]");
            denseBytes = model.DenseBytes;
            expertBytes = model.Experts.ExpertBytes(model.Experts.MoeLayers[0]);
            foreach (bool graphs in path == "stacked" && cudaDev ? graphModes : [false])
            foreach (bool fused in cudaDev ? fusedModes : [false])
            foreach (int batch in batchSizes)
            {
                model.UseCudaGraphs = graphs;
                MoeModels.FusedCudaKernels = fused;
                model.DropCudaGraphs(); // a graph captured in the other mode would replay its kernels
                var rng = new Random(7 + batch);
                string label = (path == "stacked" && graphs ? "stacked+graphs" : path) + (fused && cudaDev ? "+fused" : "");
                var prompts = Enumerable.Range(0, batch).Select(_ => Enumerable.Range(0, promptTokens).Select(_ => rng.Next(config.VocabSize)).ToArray()).ToArray();
                Generation.Generate(model, prompts, new GenerationOptions { MaxNewTokens = newTokens, StopTokens = [] }); // warm-up (and graph capture: the same cache shape as the measured run)
                var result = Generation.Generate(model, prompts, new GenerationOptions { MaxNewTokens = newTokens, StopTokens = [] });
                long tensors = TensorsPerDecodeStep(model, prompts);
                rows.Add(new Row(label, batch, result.PrefillSeconds, result.DecodeSeconds, result.DecodeTokensPerSecond, result.TokensPerSecond, result.DecodeSteps, tensors));
                AnsiConsole.MarkupLineInterpolated($"  {label} batch {batch}: decode {result.DecodeTokensPerSecond:F1} tok/s, overall {result.TokensPerSecond:F1} tok/s (prefill {result.PrefillSeconds * 1000:F0} ms), {tensors} tensors per decode step");
            }
            if (model.GraphStats.Off is { } off && graphModes.Contains(true) && path == "stacked" && cudaDev) AnsiConsole.MarkupLineInterpolated($"[yellow]CUDA graphs were off: {off}[/]");
            if (cudaDev) deviceBytes = Math.Max(deviceBytes, UsedBytes(dev) - baseline);
        }
        // bytes one batch-1 decode step must read: non-expert weights (less the embedding, which is only indexed) + top-k experts per layer
        long embedBytes = (long)config.VocabSize * config.HiddenSize * CopyElementSize(dtype);
        long perToken = denseBytes - embedBytes + (long)config.TopK * expertBytes * config.NumLayers;
        var table = new Table().AddColumns("path", "batch", "decode tok/s", "overall tok/s", "prefill ms", "tensors/step");
        foreach (var r in rows) table.AddRow(r.Path, r.Batch.ToString(), r.DecodeTokensPerSecond.ToString("F1"), r.TokensPerSecond.ToString("F1"), (r.PrefillSeconds * 1000).ToString("F0"), r.TensorsPerStep.ToString());
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLineInterpolated($"weights read per batch-1 token: {perToken / 1e9:F2} GB; device copy bandwidth {copyBandwidth / 1e12:F2} TB/s -> bandwidth limit {(perToken > 0 && copyBandwidth > 0 ? copyBandwidth / perToken : 0):F0} tok/s; device memory held {deviceBytes / (double)(1L << 30):F1} GiB");
        if (jsonPath != null)
        {
            var report = new
            {
                device = dev.ToString(), dtype = dtype.ToString(), layers = config.NumLayers, hidden = config.HiddenSize, experts = config.NumExperts, top_k = config.TopK,
                prompt_tokens = promptTokens, new_tokens = newTokens, dense_bytes = denseBytes, expert_bytes = expertBytes, bytes_per_token_batch1 = perToken,
                copy_bandwidth_bytes_per_s = copyBandwidth, device_memory_bytes = deviceBytes,
                results = rows.Select(r => new { path = r.Path, batch = r.Batch, decode_tokens_per_second = r.DecodeTokensPerSecond, tokens_per_second = r.TokensPerSecond, prefill_seconds = r.PrefillSeconds, decode_seconds = r.DecodeSeconds, decode_steps = r.DecodeSteps, tensors_per_decode_step = r.TensorsPerStep }),
            };
            File.WriteAllText(jsonPath, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
        }
        return 0;
    }

    /// <summary>An on|off|both option as the modes to run (both: on first).</summary>
    static bool[] Modes(string text, string option) => text switch
    {
        "both" => [true, false],
        "on" => [true],
        "off" => [false],
        _ => throw new ArgumentException($"{option} {text}: use on, off or both."),
    };

    static int CopyElementSize(ScalarType t) => t == ScalarType.Float32 ? 4 : 2;

    /// <summary>Device memory in use (total - free), from the CUDA driver: includes libtorch's cached allocations.</summary>
    static long UsedBytes(Device dev)
    {
        var driver = CudaDriver.Open();
        var info = driver.Describe(dev.index < 0 ? 0 : dev.index);
        return info.TotalBytes - info.FreeBytes;
    }

    /// <summary>Read+write bandwidth of a 2 GiB device-to-device copy (the best a weight-streaming decode can do).</summary>
    static double MeasureCopyBandwidth(Device dev, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        long n = (1L << 30) / CopyElementSize(dtype) * 2;
        var a = empty([n], dtype, dev);
        var b = empty([n], dtype, dev);
        b.copy_(a);
        cuda.synchronize();
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < 5; i++) b.copy_(a);
        cuda.synchronize();
        return 5 * 2.0 * n * CopyElementSize(dtype) / watch.Elapsed.TotalSeconds;
    }
}
