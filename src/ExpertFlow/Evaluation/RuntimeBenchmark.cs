using System.Diagnostics;
using System.Text.Json;
using ExpertFlow.Model;
using Toolkit.Reporting;
using Toolkit.Runtime.Cuda;
using TorchSharp;
using static TorchSharp.torch;

namespace ExpertFlow.Evaluation;

/// <summary>One measured configuration of <see cref="RuntimeBenchmark"/>.</summary>
public sealed record RuntimeBenchmarkRow(string Path, int Batch, double PrefillSeconds, double DecodeSeconds, double DecodeTokensPerSecond, double TokensPerSecond,
    int DecodeSteps, long TensorsPerStep);

/// <summary>What <see cref="RuntimeBenchmark"/> measured, with the model's byte counts and the device's copy bandwidth.</summary>
public sealed record RuntimeBenchmarkResult(RuntimeBenchmarkOptions Options, MoeConfig Config, IReadOnlyList<RuntimeBenchmarkRow> Rows, long DenseBytes, long ExpertBytes,
    long BytesPerTokenBatch1, double CopyBandwidthBytesPerSecond, long DeviceMemoryBytes, string? GraphsOffBecause)
{
    /// <summary>The decode speed weight reads allow at batch 1 (device copy bandwidth over bytes per token).</summary>
    public double BandwidthLimitTokensPerSecond => BytesPerTokenBatch1 > 0 && CopyBandwidthBytesPerSecond > 0 ? CopyBandwidthBytesPerSecond / BytesPerTokenBatch1 : 0;

    /// <summary>Writes the result as JSON (atomically).</summary>
    public void WriteJson(string path)
    {
        var o = Options;
        var report = new
        {
            device = o.Device.ToString(), dtype = o.DType.ToString(), layers = Config.NumLayers, hidden = Config.HiddenSize, experts = Config.NumExperts, top_k = Config.TopK,
            prompt_tokens = o.PromptTokens, new_tokens = o.NewTokens, dense_bytes = DenseBytes, expert_bytes = ExpertBytes, bytes_per_token_batch1 = BytesPerTokenBatch1,
            copy_bandwidth_bytes_per_s = CopyBandwidthBytesPerSecond, device_memory_bytes = DeviceMemoryBytes,
            results = Rows.Select(r => new { path = r.Path, batch = r.Batch, decode_tokens_per_second = r.DecodeTokensPerSecond, tokens_per_second = r.TokensPerSecond, prefill_seconds = r.PrefillSeconds, decode_seconds = r.DecodeSeconds, decode_steps = r.DecodeSteps, tensors_per_decode_step = r.TensorsPerStep }),
        };
        Files.WriteAllTextAtomically(path, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
    }
}

/// <summary>
/// Decode throughput of a Qwen1.5-MoE-A2.7B-shaped model with random weights built in-process, everything resident, at
/// several batch sizes, expert paths, CUDA graph and fused-kernel modes; the peer script bench/expertflow/runtime_transformers_peer.py
/// measures Hugging Face transformers on the same shape.
/// </summary>
public static class RuntimeBenchmark
{
    public static RuntimeBenchmarkResult Run(RuntimeBenchmarkOptions o, IProgress<string>? progress = null)
    {
        foreach (var p in o.Paths)
            if (!RuntimeBenchmarkOptions.KnownPaths.Contains(p)) throw new ArgumentException($"expert path '{p}' is unknown; use {string.Join(" or ", RuntimeBenchmarkOptions.KnownPaths)}");
        var config = MoeConfig.Qwen15MoeA27B(o.Layers);
        if (o.Small) config = config with { HiddenSize = 256, NumHeads = 4, NumKvHeads = 4, HeadDim = 64, VocabSize = 4096, ExpertIntermediateSize = 176, SharedExpertIntermediateSize = 704, IntermediateSize = 704 };
        var dev = o.Device;
        bool cudaDev = dev.type == DeviceType.CUDA;
        long baseline = cudaDev ? UsedBytes(dev) : 0;
        var rows = new List<RuntimeBenchmarkRow>();
        double copyBandwidth = cudaDev ? MeasureCopyBandwidth(dev, o.DType) : 0;
        long denseBytes = 0, expertBytes = 0, deviceBytes = 0;
        string? graphsOff = null;
        foreach (string path in o.Paths)
        {
            var watch = Stopwatch.StartNew();
            using var model = MoeCausalLM.Create(config, new RandomWeights(seed: 1), new ModelLoadOptions { Device = dev, DType = o.DType, Experts = new ResidentExpertProvider(offerStacked: path == "stacked") });
            progress?.Report($"{path}: built {config.NumLayers} layers of random {o.DType} weights in {watch.Elapsed.TotalSeconds:F1} s");
            denseBytes = model.DenseBytes;
            expertBytes = model.Experts.ExpertBytes(model.Experts.MoeLayers[0]);
            foreach (bool graphs in path == "stacked" && cudaDev ? o.CudaGraphModes : [false])
            foreach (bool fused in cudaDev ? o.FusedKernelModes : [false])
            foreach (int batch in o.Batches)
            {
                model.UseCudaGraphs = graphs;
                MoeModels.FusedCudaKernels = fused;
                model.DropCudaGraphs(); // a graph captured in the other mode would replay its kernels
                var rng = new Random(7 + batch);
                string label = (path == "stacked" && graphs ? "stacked+graphs" : path) + (fused && cudaDev ? "+fused" : "");
                var prompts = Enumerable.Range(0, batch).Select(_ => Enumerable.Range(0, o.PromptTokens).Select(_ => rng.Next(config.VocabSize)).ToArray()).ToArray();
                var generation = new GenerationOptions { MaxNewTokens = o.NewTokens, StopTokens = [] };
                Generation.Generate(model, prompts, generation); // warm-up (and graph capture: the same cache shape as the measured run)
                var result = Generation.Generate(model, prompts, generation);
                long tensors = TensorsPerDecodeStep(model, prompts);
                rows.Add(new RuntimeBenchmarkRow(label, batch, result.PrefillSeconds, result.DecodeSeconds, result.DecodeTokensPerSecond, result.TokensPerSecond, result.DecodeSteps, tensors));
                progress?.Report($"  {label} batch {batch}: decode {result.DecodeTokensPerSecond:F1} tok/s, overall {result.TokensPerSecond:F1} tok/s (prefill {result.PrefillSeconds * 1000:F0} ms), {tensors} tensors per decode step");
            }
            if (model.GraphStats.Off is { } off && o.CudaGraphModes.Contains(true) && path == "stacked" && cudaDev) graphsOff = off;
            if (cudaDev) deviceBytes = Math.Max(deviceBytes, UsedBytes(dev) - baseline);
        }
        // bytes one batch-1 decode step must read: non-expert weights (less the embedding, which is only indexed) + top-k experts per layer
        long embedBytes = (long)config.VocabSize * config.HiddenSize * ElementSize(o.DType);
        long perToken = denseBytes - embedBytes + (long)config.TopK * expertBytes * config.NumLayers;
        return new RuntimeBenchmarkResult(o, config, rows, denseBytes, expertBytes, perToken, copyBandwidth, deviceBytes, graphsOff);
    }

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

    static int ElementSize(ScalarType t) => t == ScalarType.Float32 ? 4 : 2;

    /// <summary>Device memory in use (total - free), from the CUDA driver: includes libtorch's cached allocations.</summary>
    static long UsedBytes(Device dev)
    {
        var info = CudaDriver.Open().Describe(dev.index < 0 ? 0 : dev.index);
        return info.TotalBytes - info.FreeBytes;
    }

    /// <summary>Read+write bandwidth of a 2 GiB device-to-device copy (the best a weight-streaming decode can do).</summary>
    static double MeasureCopyBandwidth(Device dev, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        long n = (1L << 30) / ElementSize(dtype) * 2;
        var a = empty([n], dtype, dev);
        var b = empty([n], dtype, dev);
        b.copy_(a);
        cuda.synchronize();
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < 5; i++) b.copy_(a);
        cuda.synchronize();
        return 5 * 2.0 * n * ElementSize(dtype) / watch.Elapsed.TotalSeconds;
    }
}
