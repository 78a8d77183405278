using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ExpertFlow.Engine;
using Microsoft.Extensions.Logging;
using Toolkit.Reporting;

namespace ExpertFlow.Serving;

/// <summary>What <see cref="ServeBenchmark"/> measures.</summary>
public sealed record ServeBenchmarkOptions
{
    /// <summary>Concurrent clients per round; each sends one streaming request (a round of 1 client sends <see cref="SoloRequests"/> one after the other).</summary>
    public IReadOnlyList<int> Clients { get; init; } = [1, 8, 32, 64];
    public int PromptTokens { get; init; } = 32;
    public int NewTokens { get; init; } = 64;
    /// <summary>Requests of the single-client round, one after the other.</summary>
    public int SoloRequests { get; init; } = 4;
    public int Seed { get; init; } = 1;
    /// <summary>Where prompts.json (the token ids, for a peer to reuse), results.json and report.md go.</summary>
    public string OutputFolder { get; init; } = Path.Combine("runs", "serve");
    /// <summary>A label for the configuration (e.g. "resident", "6.5GiB").</summary>
    public string Label { get; init; } = "";
}

/// <summary>One round of the benchmark.</summary>
public sealed record ServeRound(string Label, int Clients, int Requests, long Tokens, double Seconds, double TokensPerSecond,
    double TtftP50, double TtftP99, double ItlP50, double ItlP99);

/// <summary>
/// Load on a real server: starts <see cref="ExpertFlowServer"/> on loopback over the model, waits for it, then for each
/// client count sends that many concurrent streaming /v1/completions requests (random token-id prompts, greedy,
/// <c>ignore_eos</c> so every request generates the same number of tokens) after a short warm-up round at the same load (graph capture for that batch width), and measures throughput, time to first token
/// and inter-token latency (p50/p99) from the client side. The prompts are written out so a peer can run the same ones.
/// </summary>
public static class ServeBenchmark
{
    public static async Task<IReadOnlyList<ServeRound>> RunAsync(EngineOptions engine, ServerOptions server, ServeBenchmarkOptions o, ILoggerFactory logging,
        IProgress<string>? progress = null, CancellationToken cancel = default)
    {
        int most = o.Clients.Max();
        var random = new Random(o.Seed);
        var config = Model.MoeConfig.Load(engine.ModelFolder);
        var prompts = Enumerable.Range(0, Math.Max(most, o.SoloRequests)).Select(_ => Enumerable.Range(0, o.PromptTokens).Select(_ => random.Next(config.VocabSize)).ToArray()).ToArray();
        Directory.CreateDirectory(o.OutputFolder);
        Files.WriteAllTextAtomically(Path.Combine(o.OutputFolder, "prompts.json"), JsonSerializer.Serialize(new { new_tokens = o.NewTokens, prompts }));
        await using var host = ExpertFlowServer.Create(engine, server with { Port = 0, Host = "127.0.0.1", MaxSequences = Math.Max(server.MaxSequences, most), ModelName = "bench" }, logging);
        await host.StartAsync(cancel);
        if (!await host.WaitUntilReadyAsync(TimeSpan.FromMinutes(20), cancel)) throw new InvalidDataException($"the server did not load the model: {host.Service.LoadError}");
        using var http = new HttpClient { BaseAddress = new Uri(host.Addresses.First()), Timeout = TimeSpan.FromMinutes(30) };
        if (server.ApiKey is { } key) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var rounds = new List<ServeRound>();
        foreach (int clients in o.Clients)
        {
            progress?.Report($"{o.Label}: {clients} client(s)");
            // Warm-up at this load: the first steps at a new batch width capture that width's CUDA graph.
            await Task.WhenAll(Enumerable.Range(0, clients).Select(i => Request(http, prompts[i], 4, cancel)));
            var clock = Stopwatch.StartNew();
            List<Timing> timings;
            if (clients == 1)
            {
                timings = [];
                for (int i = 0; i < o.SoloRequests; i++) timings.Add(await Request(http, prompts[i], o.NewTokens, cancel));
            }
            else timings = (await Task.WhenAll(Enumerable.Range(0, clients).Select(i => Request(http, prompts[i], o.NewTokens, cancel)))).ToList();
            double seconds = clock.Elapsed.TotalSeconds;
            long tokens = timings.Sum(t => (long)t.Tokens);
            var ttft = timings.Select(t => t.FirstToken).Order().ToArray();
            var itl = timings.SelectMany(t => t.Gaps).Order().ToArray();
            rounds.Add(new ServeRound(o.Label, clients, timings.Count, tokens, seconds, tokens / seconds, Percentile(ttft, 0.5), Percentile(ttft, 0.99), Percentile(itl, 0.5), Percentile(itl, 0.99)));
        }
        Files.WriteAllTextAtomically(Path.Combine(o.OutputFolder, "results.json"), JsonSerializer.Serialize(rounds, new JsonSerializerOptions { WriteIndented = true }));
        return rounds;
    }

    sealed record Timing(int Tokens, double FirstToken, IReadOnlyList<double> Gaps);

    /// <summary>One streaming request; times are seconds from sending.</summary>
    static async Task<Timing> Request(HttpClient http, int[] prompt, int newTokens, CancellationToken cancel)
    {
        var body = new JsonObject { ["model"] = "bench", ["prompt"] = new JsonArray(prompt.Select(t => (JsonNode)t).ToArray()), ["max_tokens"] = newTokens, ["temperature"] = 0, ["stream"] = true, ["ignore_eos"] = true };
        var clock = Stopwatch.StartNew();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json") };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel);
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"the server answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancel)}");
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancel));
        var arrivals = new List<double>();
        while (await reader.ReadLineAsync(cancel) is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
            if (line == "data: [DONE]") break;
            var chunk = JsonNode.Parse(line["data: ".Length..])!;
            if (chunk["choices"]!.AsArray().Any(c => c!["text"]!.GetValue<string>().Length > 0)) arrivals.Add(clock.Elapsed.TotalSeconds);
        }
        var gaps = arrivals.Zip(arrivals.Skip(1), (a, b) => b - a).ToArray();
        return new Timing(newTokens, arrivals.Count > 0 ? arrivals[0] : clock.Elapsed.TotalSeconds, gaps);
    }

    static double Percentile(double[] sorted, double q) => sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];

    /// <summary>The rounds as a markdown table.</summary>
    public static string Table(IEnumerable<ServeRound> rounds)
    {
        var table = new MarkdownTable("configuration", "clients", "requests", "tokens", "seconds", "tokens/s", "TTFT p50 ms", "TTFT p99 ms", "ITL p50 ms", "ITL p99 ms");
        foreach (var r in rounds)
            table.Add(r.Label, r.Clients, r.Requests, r.Tokens, r.Seconds.ToString("F2"), r.TokensPerSecond.ToString("F1"), (r.TtftP50 * 1000).ToString("F0"),
                (r.TtftP99 * 1000).ToString("F0"), (r.ItlP50 * 1000).ToString("F1"), (r.ItlP99 * 1000).ToString("F1"));
        return table.ToString();
    }
}
