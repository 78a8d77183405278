namespace ExpertFlow.Serving;

/// <summary>How <c>expertflow serve</c> listens and what it admits.</summary>
public sealed record ServerOptions
{
    /// <summary>The address to bind (loopback by default: give 0.0.0.0 to serve other machines, ideally with an API key and TLS).</summary>
    public string Host { get; init; } = "127.0.0.1";
    public int Port { get; init; } = 8000;
    /// <summary>A bearer key every /v1 request must carry (null: none).</summary>
    public string? ApiKey { get; init; }
    /// <summary>The model name clients ask for (default: the model folder's name).</summary>
    public string? ModelName { get; init; }
    /// <summary>Sequences generated at once (KV cache rows).</summary>
    public int MaxSequences { get; init; } = 8;
    /// <summary>Requests waiting for a row beyond which new ones get 429.</summary>
    public int MaxQueue { get; init; } = 256;
    /// <summary>Positions per sequence: prompt plus completion (default: 4096 or the model's max_position_embeddings if smaller).</summary>
    public int? Context { get; init; }
    /// <summary>Prompt tokens one prefill step admits (bounds a step's activation memory).</summary>
    public int MaxPrefillTokens { get; init; } = 2048;
    /// <summary>Completion tokens when a request names none.</summary>
    public int DefaultMaxTokens { get; init; } = 256;
    /// <summary>Largest request body accepted (413 beyond).</summary>
    public long MaxRequestBodyBytes { get; init; } = 1 << 20;

    public void Validate()
    {
        if (Port is < 0 or > 65535) throw new ArgumentException($"port {Port} is outside 0..65535");
        if (MaxSequences < 1) throw new ArgumentException($"max sequences must be at least 1 (got {MaxSequences})");
        if (MaxQueue < 0) throw new ArgumentException($"the queue limit cannot be negative (got {MaxQueue})");
        if (Context is < 2) throw new ArgumentException($"the context must be at least 2 positions (got {Context})");
        if (MaxPrefillTokens < 1) throw new ArgumentException($"max prefill tokens must be at least 1 (got {MaxPrefillTokens})");
        if (DefaultMaxTokens < 1) throw new ArgumentException($"default max tokens must be at least 1 (got {DefaultMaxTokens})");
        if (ApiKey is { Length: 0 }) throw new ArgumentException("an empty API key protects nothing; leave it out or give one");
    }
}
