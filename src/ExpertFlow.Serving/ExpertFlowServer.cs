using System.Security.Cryptography;
using System.Text;
using ExpertFlow.Engine;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ExpertFlow.Serving;

/// <summary>
/// <c>expertflow serve</c>: Kestrel in the same process as the engine. The server listens at once (503 until the model
/// is loaded), checks the bearer key on /v1, limits request bodies, and turns every refused request into OpenAI's error
/// JSON; a failure inside one request never takes the server down. TLS comes from Kestrel's standard configuration
/// (Kestrel__Endpoints__... environment variables or appsettings.json), which replaces the host and port.
/// </summary>
public sealed class ExpertFlowServer : IAsyncDisposable
{
    readonly WebApplication app;
    readonly ILogger log;

    ExpertFlowServer(WebApplication app, InferenceService service, ServerMetrics metrics, ILogger log)
    {
        this.app = app;
        Service = service;
        Metrics = metrics;
        this.log = log;
    }

    public InferenceService Service { get; }
    public ServerMetrics Metrics { get; }

    /// <summary>The addresses Kestrel listens on (the real port when 0 was asked for), after <see cref="StartAsync"/>.</summary>
    public IReadOnlyList<string> Addresses => app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToList() ?? [];

    public static ExpertFlowServer Create(EngineOptions engine, ServerOptions options, ILoggerFactory logging)
    {
        options.Validate();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        // ASP.NET Core's own logs (a line per request at Information) only from warnings up, on standard error
        builder.Logging.ClearProviders();
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
            k.AddServerHeader = false;
        });
        builder.WebHost.UseUrls($"http://{(options.Host.Contains(':') ? $"[{options.Host}]" : options.Host)}:{options.Port}");
        var app = builder.Build();
        var log = logging.CreateLogger("serve");
        var metrics = new ServerMetrics();
        var service = new InferenceService(engine, options, log, metrics);
        byte[]? key = options.ApiKey is { } k ? Encoding.UTF8.GetBytes("Bearer " + k) : null;
        app.Use(async (ctx, next) =>
        {
            try
            {
                if (key != null && ctx.Request.Path.StartsWithSegments("/v1"))
                {
                    byte[] given = Encoding.UTF8.GetBytes(ctx.Request.Headers.Authorization.ToString());
                    if (!CryptographicOperations.FixedTimeEquals(given, key))
                        throw new ApiException(401, "a valid API key is required: send 'Authorization: Bearer KEY'", ApiException.Authentication, "invalid_api_key");
                }
                await next(ctx);
            }
            catch (ApiException e) when (!ctx.Response.HasStarted)
            {
                metrics.Request(ctx.Request.Path, e.Status);
                await OpenAiEndpoints.Json(ctx, e.Status, e.Body());
            }
            catch (BadHttpRequestException e) when (!ctx.Response.HasStarted)
            {
                metrics.Request(ctx.Request.Path, e.StatusCode);
                await OpenAiEndpoints.Json(ctx, e.StatusCode, ApiException.Body(e.StatusCode == 413 ? $"the request body is larger than {options.MaxRequestBodyBytes} bytes" : e.Message, ApiException.InvalidRequest));
            }
            catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
            {
                // the client went away; its sequence was cancelled and its row freed
            }
            catch (Exception e) when (!ctx.Response.HasStarted && e is not OutOfMemoryException)
            {
                log.LogError(e, "request {Path} failed", ctx.Request.Path);
                metrics.Request(ctx.Request.Path, 500);
                await OpenAiEndpoints.Json(ctx, 500, ApiException.Body($"internal error: {e.Message.Split('\n')[0]}", ApiException.Server));
            }
        });
        OpenAiEndpoints.Map(app, service, metrics);
        app.MapFallback(ctx => throw new ApiException(404, $"no endpoint {ctx.Request.Method} {ctx.Request.Path}; see /v1/models, /v1/chat/completions, /v1/completions, /health, /metrics", ApiException.NotFound));
        return new ExpertFlowServer(app, service, metrics, log);
    }

    /// <summary>Starts listening and loading the model (requests get 503 until it is loaded).</summary>
    public async Task StartAsync(CancellationToken cancel = default)
    {
        await app.StartAsync(cancel);
        log.LogInformation("listening on {Addresses}; loading the model", string.Join(", ", Addresses));
        _ = Service.StartAsync();
    }

    /// <summary>Waits until the model is loaded (true) or failed to load (false).</summary>
    public async Task<bool> WaitUntilReadyAsync(TimeSpan timeout, CancellationToken cancel = default)
    {
        var until = DateTime.UtcNow + timeout;
        while (!Service.Ready && Service.LoadError == null && DateTime.UtcNow < until) await Task.Delay(50, cancel);
        return Service.Ready;
    }

    /// <summary>Runs until <paramref name="cancel"/> fires (Ctrl+C), then stops.</summary>
    public async Task RunAsync(CancellationToken cancel)
    {
        await StartAsync(cancel);
        try { await Task.Delay(Timeout.Infinite, cancel); }
        catch (OperationCanceledException) { }
        log.LogInformation("stopping");
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
        Service.Dispose();
    }
}
