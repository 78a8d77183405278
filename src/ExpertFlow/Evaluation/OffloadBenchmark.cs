using Toolkit.Runtime;
using ExpertFlow.Offloading;
using System.Diagnostics;
using ExpertFlow.Model;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Toolkit.Reporting;
using static TorchSharp.torch;

namespace ExpertFlow.Evaluation;

/// <summary>
/// Runs a policy sweep on one model: for every (batch, budget, policy) it loads the model with that expert
/// provider, generates <c>newTokens</c> greedy tokens after a random prompt, and records decode tokens/s,
/// memory and the offloading stats. One host tier (the pinned arena) per expert format serves every run. The output
/// ids of every run are compared with the first run of the same batch size and expert format (all configurations of
/// one format compute the same function, so they must agree).
/// </summary>
public sealed class OffloadBenchmark(string modelFolder, Device device, ILogger? log = null)
{
    readonly ILogger log = log ?? NullLogger.Instance;
    Toolkit.Runtime.Safetensors.SafetensorsCheckpoint? openCheckpoint;

    public int PromptTokens { get; init; } = 32;
    public int NewTokens { get; init; } = 32;
    public int Seed { get; init; } = 1;
    public ScalarType DType { get; init; } = ScalarType.BFloat16;
    /// <summary>Runs the first case once, briefly and unrecorded, before the sweep.</summary>
    public bool WarmUp { get; init; } = true;
    /// <summary>Decode offloaded steps from segmented CUDA graphs (CUDA only; see DecodeGraphs).</summary>
    public bool CudaGraphs { get; init; } = true;
    /// <summary>The expert bytes (default: the model's checkpoint).</summary>
    public IExpertSource? ExpertSource { get; init; }

    /// <summary>Runs the cases in order; <paramref name="afterEach"/> sees the results so far (e.g. to write a partial report).</summary>
    public List<BenchResult> Run(IReadOnlyList<BenchCase> cases, IProgress<string>? progress = null, Action<IReadOnlyList<BenchResult>>? afterEach = null)
    {
        var results = new List<BenchResult>();
        var hosts = new Dictionary<ExpertFormat, HostExperts>();
        HostExperts Host(ExpertFormat f) => hosts.TryGetValue(f, out var h) ? h : hosts[f] = BuildHost(f);
        var referenceIds = new Dictionary<(int, ExpertFormat), int[][]>();
        // Baseline: the device after libtorch has created its context (not the model's memory).
        if (device.type == TorchSharp.DeviceType.CUDA) using (var init = ones(1, device: device)) init.add_(1).cpu().Dispose();
        long baseline = DeviceUsed(null);
        try
        {
            // Warm-up (not recorded), once per batch size: the first run of a process, and the first run of each
            // batch shape, pay for kernel loading, library handles and allocator growth.
            foreach (var first in WarmUp ? cases.Where(c => c.Policy != null).GroupBy(c => (c.Batch, c.Experts)).Select(g => g.First()) : [])
            {
                progress?.Report($"warm-up, batch {first.Batch}, experts {first.Experts.Name}");
                try { RunOne(first, Host(first.Experts), baseline, [], newTokens: 3); }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException) { log.LogWarning("warm-up: {Message}", e.Message); }
            }
            foreach (var c in cases)
            {
                progress?.Report(c.Label);
                try
                {
                    var r = RunOne(c, c.Policy != null ? Host(c.Experts) : null, baseline, referenceIds);
                    results.Add(r);
                    log.LogInformation("{Case}: {Tps:F2} tok/s decode, hit ratio {Hit:F3}, stall {Stall:F3} s, peak measured {Peak}",
                        c.Label, r.DecodeTokensPerSecond, r.Stats?.HitRatio ?? 1, r.Stats?.StallSeconds ?? 0, MemorySize.Format(r.MeasuredPeakDeviceBytes));
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException or OutOfMemoryException || e is Toolkit.Runtime.Cuda.CudaException || e is System.Runtime.InteropServices.ExternalException)
                {
                    log.LogWarning("{Case}: {Message}", c.Label, e.Message);
                    results.Add(new BenchResult(c, 0, 0, 0, 0, 0, 0, false, null, e.Message.Split('\n')[0]));
                }
                afterEach?.Invoke(results);
            }
        }
        finally
        {
            foreach (var h in hosts.Values) h.Dispose();
            openCheckpoint?.Dispose(); // the disk tier reads it until here
            openCheckpoint = null;
        }
        return results;
    }

    HostExperts BuildHost(ExpertFormat format)
    {
        var started = Stopwatch.StartNew();
        bool cuda = device.type == TorchSharp.DeviceType.CUDA;
        // CUDA: pinned arena (from the given source when there is one); CPU: the disk tier over the memory-mapped checkpoint.
        var source = cuda ? ExpertSource : null;
        if (source == null)
        {
            // Read the experts from the checkpoint once (the model's catalog gives the names).
            var config = MoeConfig.Load(modelFolder);
            var checkpoint = openCheckpoint = Toolkit.Runtime.Safetensors.SafetensorsCheckpoint.Open(modelFolder);
            var layers = Enumerable.Range(0, config.NumLayers).Where(i => config.MoeLayers[i]).ToArray();
            string prefix = config.Family == ModelFamily.Mixtral ? "block_sparse_moe" : "mlp";
            string[] names = config.Family == ModelFamily.Mixtral ? ["w1", "w3", "w2"] : ["gate_proj", "up_proj", "down_proj"];
            string[] roles = ["gate", "up", "down"];
            string Name(ExpertKey k, string role) => $"model.layers.{k.Layer}.{prefix}.experts.{k.Expert}.{names[Array.IndexOf(roles, role)]}.weight";
            var layout = CheckpointExpertSource.LayoutFrom(checkpoint, layers, config.NumExperts, roles, Name, DType);
            source = new CheckpointExpertSource(checkpoint, layout, Name);
        }
        if (format.IsQuantized)
        {
            // gate and up rows stacked as the input matrix, down as the output matrix
            var parts = source.Layout.Parts;
            long[] input = [parts.Take(parts.Count - 1).Sum(p => p.Shape[0]), parts[0].Shape[1]];
            source = new QuantizingExpertSource(source, PackedExpertLayout.For(format, input, parts[^1].Shape));
        }
        try
        {
            var host = HostExperts.Create(source, device, cuda || format.IsQuantized ? HostTier.Arena : HostTier.Disk, log);
            log.LogInformation("host tier {Tier}: {Size} in {Seconds:F1} s", host.Store.Tier, MemorySize.Format(host.Store.HostBytes), started.Elapsed.TotalSeconds);
            return host;
        }
        catch
        {
            openCheckpoint?.Dispose();
            openCheckpoint = null;
            throw;
        }
    }

    BenchResult RunOne(BenchCase c, HostExperts? host, long baseline, Dictionary<(int, ExpertFormat), int[][]> referenceIds, int? newTokens = null)
    {
        var config = MoeConfig.Load(modelFolder);
        int tokens = newTokens ?? NewTokens;
        long peak = 0;
        long Measure() { long used = DeviceUsed(host) - baseline; peak = Math.Max(peak, used); return used; }
        var load = new ModelLoadOptions { Device = device, DType = DType, Log = log, CudaGraphs = CudaGraphs, ExpertFormat = c.Experts };
        OffloadedModel? offloaded = c.Policy is { } policy
            ? OffloadedModel.Load(modelFolder, load,
                new OffloadOptions(policy, c.MemoryBytes is long m ? MemoryBudget.Bytes(m) : MemoryBudget.Unlimited, host?.Store.Tier == "disk" ? HostTier.Disk : HostTier.Arena),
                Workload.For(c.Batch, PromptTokens, tokens),
                new OffloadServices { Log = log, SharedHost = host, MeasureDeviceBytes = device.type == TorchSharp.DeviceType.CUDA ? Measure : null })
            : null;
        using (var model = offloaded?.Model ?? MoeModels.Load(modelFolder, load))
        {
            if (device.type == TorchSharp.DeviceType.CUDA)
                log.LogInformation("{Case}: device memory after loading {Used} (non-expert weights {Dense}; the KV cache still to come)",
                    c.Label, MemorySize.Format(Measure()), MemorySize.Format(model.DenseBytes));
            var random = new Random(Seed);
            var prompts = Enumerable.Range(0, c.Batch).Select(_ => Enumerable.Range(0, PromptTokens).Select(_ => random.Next(config.VocabSize)).ToArray()).ToArray();
            int seen = 0;
            var result = Generation.Generate(model, prompts, new GenerationOptions
            {
                MaxNewTokens = tokens, StopTokens = [],
                // where the device memory stands after the prefill and after the first decode step (once per run)
                OnToken = (row, _) =>
                {
                    if (row != 0 || device.type != TorchSharp.DeviceType.CUDA || ++seen > 2) return;
                    log.LogInformation("{Case}: device memory after {Step} {Used}", c.Label, seen == 1 ? "the prefill" : "the first decode step", MemorySize.Format(Measure()));
                },
            });
            offloaded?.Provider.Finish();
            Measure();
            var stats = offloaded?.Provider.Stats;
            bool same = true;
            double match = 1;
            if (referenceIds.TryGetValue((c.Batch, c.Experts), out var reference))
            {
                same = reference.Zip(result.OutputIds).All(p => p.First.SequenceEqual(p.Second));
                var pairs = reference.Zip(result.OutputIds).SelectMany(p => p.First.Zip(p.Second)).ToArray();
                match = pairs.Length == 0 ? 1 : pairs.Count(p => p.First == p.Second) / (double)pairs.Length;
            }
            else referenceIds[(c.Batch, c.Experts)] = result.OutputIds;
            long planned = stats?.Plan.PlannedBytes ?? model.DenseBytes + model.CacheBytes + model.Experts.MoeLayers.Count * (long)model.Experts.NumExperts * model.Experts.ExpertBytes(model.Experts.MoeLayers[0]);
            return new BenchResult(c, result.DecodeTokensPerSecond, result.PrefillSeconds, result.DecodeSeconds, result.GeneratedTokens,
                planned, device.type == TorchSharp.DeviceType.CUDA ? peak : -1, same, stats, null, match);
        }
    }

    long DeviceUsed(HostExperts? host)
    {
        if (device.type != TorchSharp.DeviceType.CUDA) return 0;
        if (host?.Context is { } context) { var (free, total) = context.MemoryInfo(); return total - free; }
        using var ctx = Toolkit.Runtime.Cuda.CudaDriver.Open().RetainPrimaryContext(device.index < 0 ? 0 : device.index);
        var (f, t) = ctx.MemoryInfo();
        return t - f;
    }

    /// <summary>Markdown report with the results table and links to the plots; writes the plots beside it.</summary>
    public static string WriteReport(string folder, IReadOnlyList<BenchResult> results, string title, string command, string machine, bool plots = true)
    {
        Directory.CreateDirectory(folder);
        var table = new MarkdownTable("policy", "experts", "budget", "batch", "decode tok/s", "hit ratio", "transfers", "GB moved", "stall s", "demand GB/s", "planned device", "measured peak", "ids = reference", "note");
        foreach (var r in results)
        {
            var s = r.Stats;
            table.Add(r.Case.PolicyName, r.Case.Experts.Name, r.Case.MemoryBytes is long m ? MemorySize.Format(m) : "-", r.Case.Batch,
                r.Error == null ? r.DecodeTokensPerSecond.ToString("0.00") : "-",
                s == null ? (r.Error == null ? "1 (resident)" : "-") : s.HitRatio.ToString("0.000"),
                s == null ? "0" : (s.DemandTransfers + s.PrefetchTransfers).ToString(),
                s == null ? "0" : (s.TransferBytes / 1e9).ToString("0.00"),
                s == null ? "0" : s.StallSeconds.ToString("0.000"),
                s is { DemandCopySeconds: > 0 } ? s.DemandBandwidthGBps.ToString("0.0") : "-",
                r.Error == null ? MemorySize.Format(r.PlannedDeviceBytes) : "-",
                r.MeasuredPeakDeviceBytes > 0 ? MemorySize.Format(r.MeasuredPeakDeviceBytes) : "-",
                r.Error == null ? (r.SameIdsAsReference ? "yes" : $"NO ({r.IdsMatch:P0} equal)") : "-",
                r.Error ?? r.Case.Note);
        }
        var withStats = results.Where(r => r.Stats != null).ToList();
        var md = new System.Text.StringBuilder();
        md.AppendLine($"# {title}").AppendLine().AppendLine($"Machine: {machine}").AppendLine().AppendLine("Command:").AppendLine().AppendLine("```").AppendLine(command).AppendLine("```").AppendLine();
        md.AppendLine(table.ToString());
        if (results.Count(r => r.MeasuredPeakDeviceBytes > 0) > 1)
            md.AppendLine("Measured peaks after a process's first run include device memory that libtorch's caching allocator kept from " +
                "the earlier runs (it is reused, not returned to the driver): on the H200 a 6.5 GiB run after 4 GiB runs peaked 0.13 GiB " +
                "higher than the same run in a fresh process. For memory figures, run each case in its own process (cold runs).").AppendLine();
        if (plots && withStats.Count > 0)
        {
            foreach (var batch in withStats.Select(r => r.Case.Batch).Distinct())
            {
                var runs = withStats.Where(r => r.Case.Batch == batch).Select(r => (Name: $"{r.Case.PolicyName} {r.Case.Experts.Name} {MemorySize.Format(r.Case.MemoryBytes ?? 0)}", r.Stats!)).ToList();
                try
                {
                    OffloadReport.PlotHitRatio(Path.Combine(folder, $"hit-ratio-batch{batch}.png"), runs, $"Hit ratio per layer, batch {batch}");
                    OffloadReport.PlotMemory(Path.Combine(folder, $"memory-batch{batch}.png"), runs, $"Device memory over time, batch {batch}");
                    md.AppendLine($"![hit ratio batch {batch}](hit-ratio-batch{batch}.png)").AppendLine($"![memory batch {batch}](memory-batch{batch}.png)").AppendLine();
                }
                catch (Exception e) when (e is TypeInitializationException or DllNotFoundException)
                {
                    // a machine without SkiaSharp's native library or fonts: keep the report, redraw later with --replot
                    md.AppendLine($"Plots not drawn here ({e.GetBaseException().Message.Split('\n')[0]}); redraw them from results.json where SkiaSharp can draw (the bench command's replot).").AppendLine();
                    break;
                }
            }
        }
        Files.WriteAllTextAtomically(Path.Combine(folder, "report.md"), md.ToString());
        Files.WriteAllTextAtomically(Path.Combine(folder, "results.json"), OffloadReport.Serialize(results.Select(r => new
        {
            Policy = r.Case.PolicyName, Experts = r.Case.Experts.Name, r.Case.MemoryBytes, r.Case.Batch, r.DecodeTokensPerSecond, r.PrefillSeconds, r.DecodeSeconds, r.GeneratedTokens,
            r.PlannedDeviceBytes, r.MeasuredPeakDeviceBytes, r.SameIdsAsReference, r.IdsMatch, r.Case.Note, r.Error,
            Offload = r.Stats == null ? null : OffloadReport.Document(r.Stats),
        })));
        return md.ToString();
    }
}
