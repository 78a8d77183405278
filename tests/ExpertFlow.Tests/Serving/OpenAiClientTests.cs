using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using ExpertFlow.Engine;
using ExpertFlow.Model;
using ExpertFlow.Serving;
using OpenAI;
using OpenAI.Chat;

namespace ExpertFlow.Tests.Serving;

/// <summary>The official OpenAI .NET client and raw HTTP against a real server on loopback.</summary>
public sealed class OpenAiClientTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    ChatClient Chat(string key = ServerFixture.Key, string model = ServerFixture.Model) =>
        new(model, new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri(fixture.BaseAddress, "v1"), RetryPolicy = new ClientRetryPolicy(0) });

    HttpClient Http()
    {
        var http = new HttpClient { BaseAddress = fixture.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ServerFixture.Key);
        return http;
    }

    /// <summary>What a lone generation of the conversation gives: the chat template, greedy decoding, the generation config's stop ids.</summary>
    string Alone(string user, int maxTokens)
    {
        var tokenizer = ModelTokenizer.Load(fixture.Folder);
        var prompt = ChatFormatter.TryLoad(fixture.Folder, tokenizer)!.Encode(new JsonArray { new JsonObject { ["role"] = "user", ["content"] = user } });
        using var engine = InferenceEngine.Load(new EngineOptions { ModelFolder = fixture.Folder }, Workload.For(1, prompt.Length, maxTokens), tokenizer);
        var ids = engine.Generate([prompt], new GenerationOptions { MaxNewTokens = maxTokens, StopTokens = engine.StopTokenIds.Concat(tokenizer.EosTokenId is int e ? [e] : []).ToArray() }).OutputIds[0];
        return tokenizer.Decode(ids, skipSpecialTokens: true);
    }

    [Fact]
    public async Task Chat_completion_equals_a_lone_generation_and_counts_usage()
    {
        var completion = (await Chat().CompleteChatAsync([new UserChatMessage("Name a large animal.")],
            new ChatCompletionOptions { MaxOutputTokenCount = 12, Temperature = 0 }, TestContext.Current.CancellationToken)).Value;
        Assert.Equal(Alone("Name a large animal.", 12), completion.Content.Count == 0 ? "" : completion.Content[0].Text);
        Assert.True(completion.Usage.OutputTokenCount is > 0 and <= 12);
        Assert.True(completion.Usage.InputTokenCount > 5);
        Assert.Equal(completion.Usage.OutputTokenCount == 12 ? ChatFinishReason.Length : ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal(ServerFixture.Model, completion.Model);
    }

    [Fact]
    public async Task Streaming_gives_the_same_text_in_chunks()
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 12, Temperature = 0 };
        var whole = (await Chat().CompleteChatAsync([new UserChatMessage("Describe a river.")], options, TestContext.Current.CancellationToken)).Value;
        var text = new StringBuilder();
        ChatFinishReason? finish = null;
        int updates = 0;
        await foreach (var update in Chat().CompleteChatStreamingAsync([new UserChatMessage("Describe a river.")], options, TestContext.Current.CancellationToken))
        {
            updates++;
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            finish ??= update.FinishReason;
        }
        Assert.Equal(whole.Content.Count == 0 ? "" : whole.Content[0].Text, text.ToString());
        Assert.Equal(whole.FinishReason, finish);
        Assert.True(updates >= 2);
    }

    [Fact]
    public async Task Stop_sequences_end_the_text_before_them()
    {
        string full = Alone("Tell me about stones.", 16);
        Assert.SkipWhen(full.Length < 4, "the random model's reply is too short to cut");
        string stop = full.Substring(full.Length / 2, 2);
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 16, Temperature = 0, StopSequences = { stop } };
        var completion = (await Chat().CompleteChatAsync([new UserChatMessage("Tell me about stones.")], options, TestContext.Current.CancellationToken)).Value;
        string text = completion.Content.Count == 0 ? "" : completion.Content[0].Text;
        Assert.Equal(full[..full.IndexOf(stop, StringComparison.Ordinal)], text);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        var streamed = new StringBuilder();
        await foreach (var update in Chat().CompleteChatStreamingAsync([new UserChatMessage("Tell me about stones.")], options, TestContext.Current.CancellationToken))
            foreach (var part in update.ContentUpdate) streamed.Append(part.Text);
        Assert.Equal(text, streamed.ToString());
    }

    [Fact]
    public async Task Wrong_key_unknown_model_and_bad_requests_get_openai_errors()
    {
        var unauthorized = await Assert.ThrowsAsync<ClientResultException>(() => Chat(key: "wrong").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal(401, unauthorized.Status);
        var missing = await Assert.ThrowsAsync<ClientResultException>(() => Chat(model: "gpt-4").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal(404, missing.Status);
        using var http = Http();
        async Task<(HttpStatusCode Status, JsonNode? Body)> Post(string path, string body)
        {
            using var response = await http.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
            return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)));
        }
        foreach (var (body, param) in new[]
        {
            ("{not json", (string?)null), ("[]", null), ($$"""{"model":"{{ServerFixture.Model}}","messages":[{"role":"user","content":"x"}],"n":2}""", "n"),
            ($$"""{"model":"{{ServerFixture.Model}}","messages":[]}""", "messages"), ($$"""{"model":"{{ServerFixture.Model}}","messages":[{"role":"wizard","content":"x"}]}""", "messages"),
            ($$"""{"model":"{{ServerFixture.Model}}","messages":[{"role":"user","content":"x"}],"temperature":"hot"}""", "temperature"),
            ($$"""{"model":"{{ServerFixture.Model}}","messages":[{"role":"user","content":"x"}],"max_tokens":100000}""", "max_tokens"),
        })
        {
            var (status, error) = await Post("/v1/chat/completions", body);
            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.Equal("invalid_request_error", error!["error"]!["type"]!.GetValue<string>());
            if (param != null) Assert.Equal(param, error["error"]!["param"]!.GetValue<string>());
        }
        var (tooLarge, _) = await Post("/v1/completions", $$"""{"model":"{{ServerFixture.Model}}","prompt":"{{new string('a', 80_000)}}"}""");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge);
        var (nowhere, _) = await Post("/v2/anything", "{}");
        Assert.Equal(HttpStatusCode.NotFound, nowhere);
        using var health = await http.GetAsync("/health", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode); // still up after all that
    }

    [Fact]
    public async Task Text_completions_json_and_server_sent_events()
    {
        using var http = Http();
        string body = $$"""{"model":"{{ServerFixture.Model}}","prompt":"The horse is","max_tokens":6,"temperature":0}""";
        using var response = await http.PostAsync("/v1/completions", new StringContent(body, Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken))!;
        Assert.Equal("text_completion", json["object"]!.GetValue<string>());
        string text = json["choices"]![0]!["text"]!.GetValue<string>();
        var usage = json["usage"]!;
        Assert.Equal(usage["prompt_tokens"]!.GetValue<int>() + usage["completion_tokens"]!.GetValue<int>(), usage["total_tokens"]!.GetValue<int>());
        Assert.InRange(usage["completion_tokens"]!.GetValue<int>(), 1, 6);

        string streamBody = $$$"""{"model":"{{{ServerFixture.Model}}}","prompt":"The horse is","max_tokens":6,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}""";
        using var stream = await http.PostAsync("/v1/completions", new StringContent(streamBody, Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        Assert.Equal("text/event-stream", stream.Content.Headers.ContentType!.MediaType);
        var events = (await stream.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("data: [DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonNode.Parse(e["data: ".Length..])!).ToList();
        Assert.Equal(text, string.Concat(chunks.SelectMany(c => c["choices"]!.AsArray()).Select(c => c!["text"]!.GetValue<string>())));
        Assert.NotNull(chunks[^1]["usage"]);
        using var models = await http.GetAsync("/v1/models", TestContext.Current.CancellationToken);
        Assert.Contains(ServerFixture.Model, await models.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        string metrics = await (await http.GetAsync("/metrics", TestContext.Current.CancellationToken)).Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        foreach (var name in new[] { "expertflow_requests_total", "expertflow_queue_depth", "expertflow_running_sequences", "expertflow_time_to_first_token_seconds_bucket", "expertflow_inter_token_latency_seconds_bucket", "expertflow_generated_tokens_total" })
            Assert.Contains(name, metrics);
    }

    [Fact]
    public async Task A_curl_script_talks_to_the_server()
    {
        Assert.SkipUnless(File.Exists("/usr/bin/curl"), "curl is not installed");
        string script = Path.Combine(AppContext.BaseDirectory, "Serving", "curl-check.sh");
        var start = new System.Diagnostics.ProcessStartInfo("bash", [script, fixture.BaseAddress.ToString().TrimEnd('/'), ServerFixture.Key, ServerFixture.Model])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var process = System.Diagnostics.Process.Start(start)!;
        string output = await process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken) + await process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        Assert.True(process.ExitCode == 0, output);
    }
}
