using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using ExpertFlow.Engine;
using ExpertFlow.Model;
using ExpertFlow.Serving;

namespace ExpertFlow.Tests.Serving;

/// <summary>
/// Many clients at once on loopback: every streamed response complete and equal to a lone generation of its prompt (no
/// token lost, duplicated or interleaved), clients that disconnect free their rows, a full queue answers 429, and a
/// model that cannot load answers 503.
/// </summary>
public sealed class LoadTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    HttpClient Http() => new()
    {
        BaseAddress = fixture.BaseAddress, Timeout = TimeSpan.FromMinutes(3),
        DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", ServerFixture.Key) },
    };

    static StringContent Body(string prompt, int maxTokens, bool stream) => new(new JsonObject
    {
        ["model"] = ServerFixture.Model, ["prompt"] = prompt, ["max_tokens"] = maxTokens, ["temperature"] = 0, ["stream"] = stream,
    }.ToJsonString(), Encoding.UTF8, "application/json");

    /// <summary>The streamed text of a completion (every chunk's text, in order) and whether it ended with [DONE].</summary>
    static async Task<(string Text, bool Done)> Stream(HttpClient http, string prompt, int maxTokens, CancellationToken cancel)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = Body(prompt, maxTokens, stream: true) };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel);
        response.EnsureSuccessStatusCode();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancel));
        var text = new StringBuilder();
        bool done = false;
        while (await reader.ReadLineAsync(cancel) is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
            string data = line["data: ".Length..];
            if (data == "[DONE]") { done = true; break; }
            foreach (var choice in JsonNode.Parse(data)!["choices"]!.AsArray()) text.Append(choice!["text"]!.GetValue<string>());
        }
        return (text.ToString(), done);
    }

    [Fact]
    public async Task Sixty_four_streaming_clients_get_what_each_would_get_alone()
    {
        var cancel = TestContext.Current.CancellationToken;
        var prompts = Enumerable.Range(0, 64).Select(i => $"Entry {i}: the {(i % 2 == 0 ? "river" : "stone")} near the field {i * 7 % 13}").ToArray();
        const int maxTokens = 8;
        // sequentially, through the engine alone
        var tokenizer = ModelTokenizer.Load(fixture.Folder);
        string[] expected;
        using (var engine = InferenceEngine.Load(new EngineOptions { ModelFolder = fixture.Folder }, Workload.For(1, 64, maxTokens), tokenizer))
        {
            var stops = engine.StopTokenIds.Concat(tokenizer.EosTokenId is int e ? [e] : []).ToArray();
            expected = prompts.Select(p => tokenizer.Decode(engine.Generate([tokenizer.Encode(p)], new GenerationOptions { MaxNewTokens = maxTokens, StopTokens = stops }, cancel).OutputIds[0], skipSpecialTokens: true)).ToArray();
        }
        using var http = Http();
        var results = await Task.WhenAll(prompts.Select(p => Stream(http, p, maxTokens, cancel)));
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.True(results[i].Done, $"client {i}: the stream did not end with [DONE]");
            Assert.Equal(expected[i], results[i].Text);
        }
        await WaitIdle(cancel);
    }

    [Fact]
    public async Task Clients_that_disconnect_free_their_rows()
    {
        var cancel = TestContext.Current.CancellationToken;
        using var http = Http();
        using var leaving = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var streams = Enumerable.Range(0, 8).Select(async i =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = Body($"Leaving client {i}", 100, stream: true) };
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, leaving.Token);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(leaving.Token));
            await reader.ReadLineAsync(leaving.Token); // the first chunk arrived: then the client goes away
        }).ToArray();
        await Task.WhenAll(streams);
        await WaitIdle(cancel);
        var (text, done) = await Stream(http, "Still serving", 4, cancel);
        Assert.True(done);
    }

    [Fact]
    public async Task A_full_queue_answers_429_and_a_broken_model_503()
    {
        var cancel = TestContext.Current.CancellationToken;
        await using (var busy = ExpertFlowServer.Create(new EngineOptions { ModelFolder = fixture.Folder },
            new ServerOptions { Port = 0, ModelName = "busy", MaxSequences = 1, MaxQueue = 1 }, ServerFixture.Logging))
        {
            await busy.StartAsync(cancel);
            Assert.True(await busy.WaitUntilReadyAsync(TimeSpan.FromMinutes(1), cancel));
            using var http = new HttpClient { BaseAddress = new Uri(busy.Addresses.First()) };
            var answers = await Task.WhenAll(Enumerable.Range(0, 12).Select(async i =>
            {
                var body = new StringContent(new JsonObject { ["model"] = "busy", ["prompt"] = $"Queue {i}", ["max_tokens"] = 60, ["temperature"] = 0 }.ToJsonString(), Encoding.UTF8, "application/json");
                using var response = await http.PostAsync("/v1/completions", body, cancel);
                if (response.StatusCode == HttpStatusCode.TooManyRequests)
                    Assert.Equal("rate_limit_error", JsonNode.Parse(await response.Content.ReadAsStringAsync(cancel))!["error"]!["type"]!.GetValue<string>());
                return response.StatusCode;
            }));
            Assert.Contains(HttpStatusCode.TooManyRequests, answers);
            Assert.Contains(HttpStatusCode.OK, answers);
            Assert.All(answers, a => Assert.True(a is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, a.ToString()));
        }

        string broken = Path.Combine(Path.GetTempPath(), $"broken-{Guid.NewGuid():N}");
        Directory.CreateDirectory(broken);
        try
        {
            foreach (var f in new[] { "config.json", "tokenizer.json", "tokenizer_config.json" }) File.Copy(Path.Combine(fixture.Folder, f), Path.Combine(broken, f));
            File.WriteAllBytes(Path.Combine(broken, "model.safetensors"), [1, 2, 3]);
            await using var server = ExpertFlowServer.Create(new EngineOptions { ModelFolder = broken }, new ServerOptions { Port = 0, ModelName = "broken" }, ServerFixture.Logging);
            await server.StartAsync(cancel);
            Assert.False(await server.WaitUntilReadyAsync(TimeSpan.FromMinutes(1), cancel));
            using var http = new HttpClient { BaseAddress = new Uri(server.Addresses.First()) };
            using var health = await http.GetAsync("/health", cancel);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
            using var chat = await http.PostAsync("/v1/completions", new StringContent("""{"model":"broken","prompt":"x"}""", Encoding.UTF8, "application/json"), cancel);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, chat.StatusCode);
            Assert.Contains("model.safetensors", await chat.Content.ReadAsStringAsync(cancel));
        }
        finally
        {
            Directory.Delete(broken, recursive: true);
        }
    }

    async Task WaitIdle(CancellationToken cancel)
    {
        for (int i = 0; i < 200 && (fixture.Server.Service.Running > 0 || fixture.Server.Service.Waiting > 0); i++) await Task.Delay(50, cancel);
        Assert.Equal(0, fixture.Server.Service.Running);
        Assert.Equal(0, fixture.Server.Service.Waiting);
    }
}
