using System.Diagnostics;
using ExpertFlow.Engine;
using ExpertFlow.Model;
using ExpertFlow.Scheduling;
using Microsoft.Extensions.Logging;

namespace ExpertFlow.Serving;

/// <summary>
/// The model behind the server: loads it in the background (the server answers 503 meanwhile), then runs the
/// continuous-batching scheduler on one engine thread, stepping while sequences are queued or running. Requests are
/// turned into prompt ids (the chat template for chat), checked against the context, and queued.
/// </summary>
public sealed class InferenceService : IDisposable
{
    readonly EngineOptions engineOptions;
    readonly ServerOptions server;
    readonly ILogger log;
    readonly ServerMetrics metrics;
    readonly SemaphoreSlim wake = new(0);
    readonly CancellationTokenSource stopping = new();
    readonly Stopwatch clock = Stopwatch.StartNew();
    InferenceEngine? engine;
    BatchScheduler? scheduler;
    ChatFormatter? chat;
    Thread? loop;

    public InferenceService(EngineOptions engine, ServerOptions server, ILogger log, ServerMetrics metrics)
    {
        engineOptions = engine;
        this.server = server;
        this.log = log;
        this.metrics = metrics;
        ModelName = server.ModelName ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(engine.ModelFolder)));
    }

    /// <summary>The name clients use for the model.</summary>
    public string ModelName { get; }
    /// <summary>True once the model is loaded.</summary>
    public bool Ready { get; private set; }
    /// <summary>Why loading failed (the server then answers 503 with it).</summary>
    public string? LoadError { get; private set; }
    /// <summary>Positions per sequence (prompt plus completion).</summary>
    public int Context { get; private set; }
    /// <summary>Sequences waiting for a slot, and running.</summary>
    public int Waiting => scheduler?.Waiting ?? 0;
    public int Running => scheduler?.RunningCount ?? 0;
    public ModelTokenizer Tokenizer => engine?.Tokenizer ?? throw NotReady();
    /// <summary>Unix seconds when the model was loaded (OpenAI's "created").</summary>
    public long Created { get; private set; }

    /// <summary>Loads the model on a worker thread and starts the engine thread; <paramref name="loaded"/> runs after.</summary>
    public Task StartAsync(Action? loaded = null) => Task.Run(() =>
    {
        try
        {
            var config = MoeConfig.Load(engineOptions.ModelFolder);
            Context = server.Context ?? Math.Min(4096, config.MaxPositionEmbeddings);
            if (Context > config.MaxPositionEmbeddings)
                throw new ArgumentException($"a context of {Context} positions exceeds the model's max_position_embeddings ({config.MaxPositionEmbeddings})");
            var tokenizer = ModelTokenizer.Load(engineOptions.ModelFolder);
            chat = ChatFormatter.TryLoad(engineOptions.ModelFolder, tokenizer);
            int prefill = Math.Min(server.MaxPrefillTokens, Context);
            var workload = new Workload(server.MaxSequences, Math.Max(1, prefill / server.MaxSequences), Context);
            engine = InferenceEngine.Load(engineOptions, workload, tokenizer);
            scheduler = engine.CreateScheduler(server.MaxSequences, Context, server.MaxPrefillTokens);
            Created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            loop = new Thread(Loop) { IsBackground = true, Name = "expertflow-engine" };
            loop.Start();
            Ready = true;
            metrics.Loaded();
            log.LogInformation("serving {Model} ({Type}): {Rows} sequences of {Context} positions{Chat}", ModelName, config.ModelType, server.MaxSequences, Context,
                chat == null ? "; no chat template (chat completions refused)" : "");
            loaded?.Invoke();
        }
        catch (Exception e)
        {
            LoadError = e.Message.Split('\n')[0];
            log.LogError("could not load the model: {Error}", LoadError);
        }
    });

    /// <summary>The prompt ids of a request: the chat template's rendering (encoded without added special tokens) or the prompt.</summary>
    public int[] PromptIds(CompletionRequest request)
    {
        var tokenizer = Tokenizer;
        if (request.Kind == CompletionKind.Chat)
        {
            var formatter = chat ?? throw ApiException.BadRequest("this model has no chat template; use /v1/completions", "messages");
            try { return formatter.Encode(request.Messages!, addGenerationPrompt: true, request.Tools, request.TemplateArgs); }
            catch (Exception e) when (e is FormatException or ArgumentException or InvalidDataException)
            {
                throw ApiException.BadRequest($"the chat template rejected the conversation: {e.Message.Split('\n')[0]}", "messages");
            }
        }
        if (request.PromptIds is { } ids)
        {
            int vocab = engine!.Model.Config.VocabSize;
            if (ids.Any(i => i >= vocab)) throw ApiException.BadRequest($"token ids must be below the vocabulary size {vocab}", "prompt");
            return ids;
        }
        return tokenizer.Encode(request.Prompt!);
    }

    /// <summary>Decoding settings of a request over the model's generation_config.json.</summary>
    public SamplingOptions Sampling(CompletionRequest request)
    {
        bool greedy = request.Temperature == 0;
        var sampling = GenerationConfig.Resolve(engine!.GenerationConfig,
            new SamplingRequest(greedy, greedy ? null : request.Temperature, null, greedy ? null : request.TopP, null, request.Seed ?? 0));
        return sampling.Greedy || request.Seed != null ? sampling : sampling with { Seed = Random.Shared.NextInt64(int.MaxValue) };
    }

    /// <summary>Ids that end a completion: generation_config.json's (else config.json's) and the tokenizer's EOS.</summary>
    public IReadOnlyCollection<int> StopTokens() =>
        engine!.StopTokenIds.Concat(Tokenizer.EosTokenId is int eos ? [eos] : []).ToHashSet();

    /// <summary>Stop strings of the request and of generation_config.json.</summary>
    public IReadOnlyList<string> StopStrings(CompletionRequest request) => request.Stop.Concat(engine!.GenerationConfig?.StopStrings ?? []).Distinct().ToArray();

    /// <summary>Queues a sequence; 429 when the queue is full.</summary>
    public Task<SequenceResult> Submit(SequenceRequest request)
    {
        var s = scheduler ?? throw NotReady();
        if (s.Waiting >= server.MaxQueue) throw new ApiException(429, $"{s.Waiting} requests are waiting already; retry later", ApiException.RateLimit);
        var task = s.Enqueue(request);
        wake.Release();
        return task;
    }

    ApiException NotReady() => new(503, LoadError == null ? "the model is still loading; retry in a moment" : $"the model could not be loaded: {LoadError}", ApiException.Unavailable);

    void Loop()
    {
        var s = scheduler!;
        while (!stopping.IsCancellationRequested)
        {
            if (!s.Busy)
            {
                metrics.Step(s.Waiting, s.RunningCount, s.GeneratedTokens, clock.Elapsed.TotalSeconds, engine!.Offload?.Stats);
                wake.Wait(200);
                continue;
            }
            try { s.Step(); }
            catch (Exception e)
            {
                log.LogError(e, "a generation step failed; the sequences in flight are ended");
                s.FailAll(new ApiException(500, $"generation failed: {e.Message.Split('\n')[0]}", ApiException.Server));
            }
            metrics.Step(s.Waiting, s.RunningCount, s.GeneratedTokens, clock.Elapsed.TotalSeconds, engine!.Offload?.Stats);
        }
    }

    public void Dispose()
    {
        stopping.Cancel();
        wake.Release();
        loop?.Join();
        scheduler?.Dispose();
        engine?.Dispose();
        wake.Dispose();
        stopping.Dispose();
    }
}
