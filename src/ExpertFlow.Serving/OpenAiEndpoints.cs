using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using ExpertFlow.Engine;
using ExpertFlow.Scheduling;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace ExpertFlow.Serving;

/// <summary>
/// The OpenAI-compatible endpoints: POST /v1/chat/completions, POST /v1/completions (JSON or server-sent events),
/// GET /v1/models, GET /health, GET /metrics. Each handler parses, queues the sequence and writes what comes back.
/// </summary>
public static class OpenAiEndpoints
{
    static readonly JsonSerializerOptions Compact = new() { WriteIndented = false };

    public static void Map(IEndpointRouteBuilder app, InferenceService service, ServerMetrics metrics)
    {
        app.MapPost("/v1/chat/completions", ctx => Complete(ctx, service, metrics, CompletionKind.Chat));
        app.MapPost("/v1/completions", ctx => Complete(ctx, service, metrics, CompletionKind.Text));
        app.MapGet("/v1/models", ctx => Json(ctx, 200, new JsonObject
        {
            ["object"] = "list",
            ["data"] = new JsonArray(new JsonObject { ["id"] = service.ModelName, ["object"] = "model", ["created"] = service.Created, ["owned_by"] = "expertflow" }),
        }));
        app.MapGet("/v1/models/{id}", (HttpContext ctx, string id) => id == service.ModelName
            ? Json(ctx, 200, new JsonObject { ["id"] = service.ModelName, ["object"] = "model", ["created"] = service.Created, ["owned_by"] = "expertflow" })
            : throw ModelNotFound(id));
        app.MapGet("/health", ctx => service.Ready
            ? Json(ctx, 200, new JsonObject { ["status"] = "ok", ["model"] = service.ModelName, ["running"] = service.Running, ["waiting"] = service.Waiting })
            : Json(ctx, 503, new JsonObject { ["status"] = service.LoadError == null ? "loading" : "error", ["message"] = service.LoadError }));
        app.MapGet("/metrics", async ctx =>
        {
            ctx.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await metrics.Registry.CollectAndExportAsTextAsync(ctx.Response.Body, ctx.RequestAborted);
        });
    }

    static ApiException ModelNotFound(string name) => new(404, $"the model '{name}' does not exist; this server serves one model (GET /v1/models)", ApiException.NotFound, "model_not_found", "model");

    static async Task Complete(HttpContext ctx, InferenceService service, ServerMetrics metrics, CompletionKind kind)
    {
        double arrival = Stopwatch.GetTimestamp();
        JsonNode? body;
        try { body = await JsonNode.ParseAsync(ctx.Request.Body, cancellationToken: ctx.RequestAborted); }
        catch (JsonException e) { throw ApiException.BadRequest($"the request body is not JSON: {e.Message.Split('.')[0]}"); }
        var request = CompletionRequest.Parse(body, kind);
        if (request.Model != service.ModelName) throw ModelNotFound(request.Model);
        if (!service.Ready) throw new ApiException(503, service.LoadError == null ? "the model is still loading; retry in a moment" : $"the model could not be loaded: {service.LoadError}", ApiException.Unavailable);
        int[] prompt = service.PromptIds(request);
        if (prompt.Length == 0) throw ApiException.BadRequest("the prompt is empty", kind == CompletionKind.Chat ? "messages" : "prompt");
        int room = service.Context - prompt.Length;
        if (room < 1 || request.MaxTokens > room)
            throw ApiException.BadRequest($"the prompt takes {prompt.Length} tokens and {request.MaxTokens ?? 1} more were asked for; this server's context holds {service.Context}",
                request.MaxTokens == null ? "messages" : "max_tokens", "context_length_exceeded");
        int maxTokens = request.MaxTokens ?? Math.Min(room, 256);
        var tokenizer = service.Tokenizer;
        var stops = service.StopStrings(request);
        var tokens = Channel.CreateUnbounded<int>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        long previous = 0;
        var sequence = new SequenceRequest
        {
            Prompt = prompt, MaxNewTokens = maxTokens, Sampling = service.Sampling(request), StopTokens = request.IgnoreEos ? [] : service.StopTokens(),
            Ended = StopStrings.Matcher(tokenizer, stops), Cancellation = ctx.RequestAborted,
            OnToken = token =>
            {
                long now = Stopwatch.GetTimestamp();
                if (previous == 0) metrics.FirstToken(Stopwatch.GetElapsedTime((long)arrival, now).TotalSeconds);
                else metrics.InterToken(Stopwatch.GetElapsedTime(previous, now).TotalSeconds);
                previous = now;
                tokens.Writer.TryWrite(token);
            },
        };
        var done = service.Submit(sequence);
        _ = done.ContinueWith(_ => tokens.Writer.TryComplete(), TaskScheduler.Default);
        string id = (kind == CompletionKind.Chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N")[..24];
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (!request.Stream)
        {
            var result = await done;
            string completion = StopStrings.Cut(tokenizer.Decode(result.Tokens, skipSpecialTokens: true), stops);
            await Json(ctx, 200, Response(kind, id, created, service.ModelName, completion, Finish(result), prompt.Length, result.Tokens.Length));
            metrics.Request(ctx.Request.Path, 200);
            return;
        }
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "text/event-stream";
        ctx.Response.Headers.CacheControl = "no-cache";
        ctx.Response.Headers["X-Accel-Buffering"] = "no";
        if (kind == CompletionKind.Chat)
            await Event(ctx, Chunk(kind, id, created, service.ModelName, new JsonObject { ["role"] = "assistant", ["content"] = "" }, null));
        var text = tokenizer.CreateStream(skipSpecialTokens: true);
        var buffer = new StopTextBuffer(stops);
        await foreach (int token in tokens.Reader.ReadAllAsync(ctx.RequestAborted))
        {
            string piece = buffer.Add(text.Append(token));
            if (piece.Length > 0) await Event(ctx, Chunk(kind, id, created, service.ModelName, Delta(kind, piece), null));
        }
        SequenceResult final;
        try { final = await done; }
        catch (ApiException e)
        {
            await Event(ctx, e.Body());
            await Done(ctx);
            metrics.Request(ctx.Request.Path, e.Status);
            return;
        }
        string rest = buffer.Add(text.Flush()) + buffer.Flush();
        if (rest.Length > 0) await Event(ctx, Chunk(kind, id, created, service.ModelName, Delta(kind, rest), null));
        await Event(ctx, Chunk(kind, id, created, service.ModelName, kind == CompletionKind.Chat ? new JsonObject() : Delta(kind, ""), Finish(final)));
        if (request.IncludeUsage)
        {
            var usage = Chunk(kind, id, created, service.ModelName, null, null);
            usage["choices"] = new JsonArray();
            usage["usage"] = Usage(prompt.Length, final.Tokens.Length);
            await Event(ctx, usage);
        }
        await Done(ctx);
        metrics.Request(ctx.Request.Path, 200);
    }

    static string Finish(SequenceResult result) => result.Reason == FinishReason.Length ? "length" : "stop";

    static JsonObject Delta(CompletionKind kind, string text) => kind == CompletionKind.Chat ? new JsonObject { ["content"] = text } : new JsonObject { ["text"] = text };

    static JsonObject Usage(int prompt, int completion) => new() { ["prompt_tokens"] = prompt, ["completion_tokens"] = completion, ["total_tokens"] = prompt + completion };

    static JsonObject Response(CompletionKind kind, string id, long created, string model, string text, string finish, int promptTokens, int completionTokens)
    {
        var choice = kind == CompletionKind.Chat
            ? new JsonObject { ["index"] = 0, ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = text }, ["logprobs"] = null, ["finish_reason"] = finish }
            : new JsonObject { ["index"] = 0, ["text"] = text, ["logprobs"] = null, ["finish_reason"] = finish };
        return new JsonObject
        {
            ["id"] = id, ["object"] = kind == CompletionKind.Chat ? "chat.completion" : "text_completion", ["created"] = created, ["model"] = model,
            ["choices"] = new JsonArray(choice), ["usage"] = Usage(promptTokens, completionTokens),
        };
    }

    static JsonObject Chunk(CompletionKind kind, string id, long created, string model, JsonObject? delta, string? finish)
    {
        var choice = kind == CompletionKind.Chat
            ? new JsonObject { ["index"] = 0, ["delta"] = delta ?? new JsonObject(), ["logprobs"] = null, ["finish_reason"] = finish }
            : new JsonObject { ["index"] = 0, ["text"] = delta?["text"]?.GetValue<string>() ?? "", ["logprobs"] = null, ["finish_reason"] = finish };
        return new JsonObject
        {
            ["id"] = id, ["object"] = kind == CompletionKind.Chat ? "chat.completion.chunk" : "text_completion", ["created"] = created, ["model"] = model,
            ["choices"] = new JsonArray(choice),
        };
    }

    static async Task Event(HttpContext ctx, JsonObject data)
    {
        await ctx.Response.WriteAsync("data: " + data.ToJsonString(Compact) + "\n\n", Encoding.UTF8, ctx.RequestAborted);
        await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
    }

    static async Task Done(HttpContext ctx)
    {
        await ctx.Response.WriteAsync("data: [DONE]\n\n", ctx.RequestAborted);
        await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
    }

    /// <summary>Writes a JSON body with a status.</summary>
    public static async Task Json(HttpContext ctx, int status, JsonObject body)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(body.ToJsonString(Compact), ctx.RequestAborted);
    }
}
