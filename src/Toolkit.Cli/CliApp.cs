using System.CommandLine;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Spectre.Console;
using Toolkit.Runtime;

namespace Toolkit.Cli;

/// <summary>Runs a tool's root command and turns failures into one clear line on standard error and an exit code.</summary>
public static class CliApp
{
    /// <summary>Exit code for bad input (arguments, files) and missing devices.</summary>
    public const int UserError = 2;
    /// <summary>Exit code for a failure the tool did not expect (a bug): still one line, the stack trace only on request.</summary>
    public const int InternalError = 70;
    /// <summary>Set this environment variable to 1 to get the stack trace of an unexpected failure.</summary>
    public const string StackTraceVariable = "TOOLKIT_STACK_TRACE";

    /// <summary>The console for errors and warnings: standard error, so that standard output stays parseable (--json).</summary>
    public static IAnsiConsole Error { get; } = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });

    /// <summary>Writes one error line on standard error (red on a terminal; never wrapped, so scripts see one line).</summary>
    public static void WriteError(string message)
    {
        if (Console.IsErrorRedirected) Console.Error.WriteLine("error: " + message);
        else
        {
            Error.Profile.Width = Math.Max(Error.Profile.Width, message.Length + 8);
            Error.MarkupLineInterpolated($"[red]error:[/] {message}");
        }
    }

    /// <summary>Parses and invokes; prints known errors without a stack trace.</summary>
    public static int Run(RootCommand root, string[] args)
    {
        try
        {
            // The default handler would print a stack trace for every failure; expected ones are reported below.
            return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (IsUserError(e))
        {
            WriteError(Describe(e));
            return UserError;
        }
        catch (Exception e) when (e is not StackOverflowException)
        {
            WriteError($"unexpected {e.GetType().Name}: {FirstLine(e.Message)} (set {StackTraceVariable}=1 for the stack trace, and please report it)");
            if (Environment.GetEnvironmentVariable(StackTraceVariable) == "1") Console.Error.WriteLine(e);
            return InternalError;
        }
    }

    /// <summary>Errors whose message already tells the user what to do (bad input, missing files or devices, exhausted memory).</summary>
    public static bool IsUserError(Exception e) => e is LibTorchException or Toolkit.Runtime.Cuda.CudaNotAvailableException or ArgumentException or InvalidDataException
        or IOException or UnauthorizedAccessException or FormatException or OutOfMemoryException or OperationCanceledException
        || e is ExternalException && IsOutOfMemory(e.Message);

    static string Describe(Exception e) => e switch
    {
        OperationCanceledException => "cancelled",
        ExternalException when IsOutOfMemory(e.Message) => $"out of memory on the device ({FirstLine(e.Message)}); lower the batch, the sequence length or the memory budget",
        _ => FirstLine(e.Message),
    };

    static bool IsOutOfMemory(string message) => message.Contains("out of memory", StringComparison.OrdinalIgnoreCase);

    static string FirstLine(string message) => message.Split('\n')[0].TrimEnd();

    /// <summary>A console logger factory writing to standard error; debug level when <paramref name="verbose"/>.</summary>
    public static ILoggerFactory CreateLogging(bool verbose) => LoggerFactory.Create(builder => builder
        .SetMinimumLevel(verbose ? LogLevel.Debug : LogLevel.Information)
        .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)
        .AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; }));
}
