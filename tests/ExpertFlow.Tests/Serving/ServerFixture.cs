using ExpertFlow.Engine;
using ExpertFlow.Serving;
using ExpertFlow.Tests.Engine;
using ExpertFlow.Tests.Model;
using Microsoft.Extensions.Logging;

namespace ExpertFlow.Tests.Serving;

/// <summary>
/// A real Kestrel server on a free loopback port serving a folder shaped like a Qwen3-MoE download (its tokenizer, chat
/// template and generation config), with an API key; shared by the serving tests.
/// </summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public const string Key = "test-key";
    public const string Model = "tiny-qwen3";
    readonly DownloadShapedModel folder;

    public ServerFixture()
    {
        Fixtures.Cpu();
        folder = new DownloadShapedModel("qwen3_moe", "qwen3-bpe", "Qwen-Qwen3-0.6B", """{"do_sample": false, "eos_token_id": [{eos}]}""");
    }

    public string Folder => folder.Folder;
    public ExpertFlowServer Server { get; private set; } = null!;
    public Uri BaseAddress { get; private set; } = null!;
    public static ILoggerFactory Logging { get; } = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Warning));

    public async ValueTask InitializeAsync()
    {
        Server = ExpertFlowServer.Create(new EngineOptions { ModelFolder = folder.Folder },
            new ServerOptions { Port = 0, ApiKey = Key, ModelName = Model, MaxSequences = 16, MaxRequestBodyBytes = 64 << 10 }, Logging);
        await Server.StartAsync();
        if (!await Server.WaitUntilReadyAsync(TimeSpan.FromMinutes(2))) throw new InvalidOperationException($"the server did not load: {Server.Service.LoadError}");
        BaseAddress = new Uri(Server.Addresses.First());
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        folder.Dispose();
    }
}
