using Microsoft.Extensions.Logging;

namespace Kimad.Experiments;

/// <summary>A logger factory that appends one line per entry to a file (the per-role logs of a launch).</summary>
public sealed class FileLogging : ILoggerProvider
{
    readonly StreamWriter writer;
    readonly LogLevel minimum;

    FileLogging(string path, LogLevel minimum)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        writer = new StreamWriter(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        this.minimum = minimum;
    }

    /// <summary>A factory whose loggers write to <paramref name="path"/> (created or truncated).</summary>
    public static ILoggerFactory Create(string path, LogLevel minimum = LogLevel.Information)
    {
        var provider = new FileLogging(path, minimum);
        return LoggerFactory.Create(b => b.SetMinimumLevel(minimum).AddProvider(provider));
    }

    public ILogger CreateLogger(string categoryName) => new Writer(this, categoryName);

    public void Dispose()
    {
        lock (writer) writer.Dispose();
    }

    void Write(LogLevel level, string category, string message, Exception? exception)
    {
        string line = $"{DateTime.Now:HH:mm:ss.fff} {level.ToString().ToLowerInvariant()[..4]} {category}: {message}";
        if (exception is not null) line += $" ({exception.GetType().Name}: {exception.Message.Split('\n')[0]})";
        lock (writer)
        {
            try { writer.WriteLine(line); } catch (ObjectDisposedException) { }
        }
    }

    sealed class Writer(FileLogging owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= owner.minimum && logLevel != LogLevel.None;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) owner.Write(logLevel, category, formatter(state, exception), exception);
        }
    }
}
