using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Kimad.Tests;

/// <summary>Keeps every formatted log line so tests can check that rejections are logged clearly.</summary>
internal sealed class LogCollector : ILoggerProvider, ILoggerFactory
{
    public ConcurrentQueue<string> Lines { get; } = new();
    public bool Contains(string text) => Lines.Any(l => l.Contains(text, StringComparison.Ordinal));
    public ILogger CreateLogger(string categoryName) => new Logger(this);
    public void AddProvider(ILoggerProvider provider) { }
    public void Dispose() { }

    sealed class Logger(LogCollector owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Lines.Enqueue($"{logLevel}: {formatter(state, exception)}");
    }
}
