using ExpertFlow.Offloading;
using Prometheus;

namespace ExpertFlow.Serving;

/// <summary>The server's Prometheus metrics (GET /metrics), in one registry per server.</summary>
public sealed class ServerMetrics
{
    readonly Counter requests, tokens, transfers;
    readonly Gauge queue, running, tokensPerSecond, hitRatio, stall, deviceMemory, loaded;
    readonly Histogram firstToken, interToken;
    double lastTokens, lastSeconds;

    public ServerMetrics()
    {
        Registry = Metrics.NewCustomRegistry();
        var f = Metrics.WithCustomRegistry(Registry);
        requests = f.CreateCounter("expertflow_requests_total", "HTTP requests by endpoint and status code.", "endpoint", "status");
        tokens = f.CreateCounter("expertflow_generated_tokens_total", "Completion tokens generated.");
        queue = f.CreateGauge("expertflow_queue_depth", "Requests waiting for a sequence slot.");
        running = f.CreateGauge("expertflow_running_sequences", "Sequences being generated.");
        tokensPerSecond = f.CreateGauge("expertflow_tokens_per_second", "Completion tokens per second over the last second or so.");
        firstToken = f.CreateHistogram("expertflow_time_to_first_token_seconds", "From a request's arrival to its first token.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.005, 2, 14) });
        interToken = f.CreateHistogram("expertflow_inter_token_latency_seconds", "Between a sequence's consecutive tokens.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.001, 2, 14) });
        hitRatio = f.CreateGauge("expertflow_expert_cache_hit_ratio", "Expert cache hits per request, by MoE layer (offloaded experts only).", "layer");
        transfers = f.CreateCounter("expertflow_expert_transfers_total", "Experts copied to the device (demand and prefetch).");
        stall = f.CreateGauge("expertflow_expert_stall_seconds", "Seconds compute waited for expert copies, in all.");
        deviceMemory = f.CreateGauge("expertflow_device_memory_bytes", "Device memory the process holds (driver-measured when offloading on CUDA; planned otherwise).");
        loaded = f.CreateGauge("expertflow_model_loaded", "1 once the model is loaded and requests are served.");
    }

    public CollectorRegistry Registry { get; }

    public void Request(string endpoint, int status) => requests.WithLabels(endpoint, status.ToString(System.Globalization.CultureInfo.InvariantCulture)).Inc();
    public void FirstToken(double seconds) => firstToken.Observe(seconds);
    public void InterToken(double seconds) => interToken.Observe(seconds);
    public void Loaded() => loaded.Set(1);

    /// <summary>After a scheduler step: queue, running sequences, throughput and the expert cache's statistics.</summary>
    public void Step(int waiting, int runningSequences, long generatedTokens, double seconds, OffloadStats? stats)
    {
        queue.Set(waiting);
        running.Set(runningSequences);
        tokens.IncTo(generatedTokens);
        if (seconds - lastSeconds >= 1)
        {
            tokensPerSecond.Set((generatedTokens - lastTokens) / (seconds - lastSeconds));
            (lastTokens, lastSeconds) = (generatedTokens, seconds);
        }
        if (stats == null) return;
        foreach (var layer in stats.Layers) hitRatio.WithLabels(layer.Layer.ToString(System.Globalization.CultureInfo.InvariantCulture)).Set(layer.HitRatio);
        transfers.IncTo(stats.DemandTransfers + stats.PrefetchTransfers);
        stall.Set(stats.StallSeconds);
        deviceMemory.Set(stats.PeakMeasuredDeviceBytes >= 0 ? stats.PeakMeasuredDeviceBytes : stats.Plan.PlannedBytes);
    }
}
