using System.CommandLine;
using Microsoft.Extensions.Logging;
using Spectre.Console;
using Toolkit.Runtime;

namespace Toolkit.Cli;

/// <summary>Runs a tool's root command and turns expected failures into one clear line and an exit code.</summary>
public static class CliApp
{
    /// <summary>Exit code for bad input (arguments, files) and missing devices.</summary>
    public const int UserError = 2;

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
            AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
            return UserError;
        }
    }

    /// <summary>Errors whose message already tells the user what to do.</summary>
    public static bool IsUserError(Exception e) => e is LibTorchException or Toolkit.Runtime.Cuda.CudaNotAvailableException or ArgumentException or InvalidDataException
        or FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException or FormatException or OutOfMemoryException;

    /// <summary>A console logger factory; debug level when <paramref name="verbose"/>.</summary>
    public static ILoggerFactory CreateLogging(bool verbose) => LoggerFactory.Create(builder => builder
        .SetMinimumLevel(verbose ? LogLevel.Debug : LogLevel.Information)
        .AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; }));
}
