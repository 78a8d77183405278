using System.CommandLine;
using System.Runtime.InteropServices;
using Spectre.Console;
using Toolkit.Runtime;
using TorchSharp;

namespace ExpertFlow.Cli;

/// <summary><c>expertflow doctor</c>: what this machine offers (runtime, libtorch, CPU, CUDA devices).</summary>
internal static class DoctorCommand
{
    public static Command Create()
    {
        var command = new Command("doctor", "Report .NET, TorchSharp and libtorch versions and location, CPU threads, CUDA devices and memory, and measured pinned host-to-device bandwidth.");
        command.SetAction(_ => Run());
        return command;
    }

    static int Run()
    {
        var table = new Table().AddColumn("item").AddColumn("value");
        table.AddRow(".NET", Markup.Escape(RuntimeInformation.FrameworkDescription + " on " + RuntimeInformation.OSDescription + " " + RuntimeInformation.ProcessArchitecture));
        table.AddRow("TorchSharp", Markup.Escape(typeof(torch).Assembly.GetName().Version?.ToString() ?? "?"));
        var lib = LibTorch.EnsureLoaded();
        table.AddRow("libtorch", Markup.Escape($"{torch.__version__} from {lib.LibDirectory} ({lib.Source})"));
        table.AddRow("CPU threads", $"{torch.get_num_threads()} torch threads, {Environment.ProcessorCount} logical processors");
        bool cuda = torch.cuda.is_available();
        table.AddRow("CUDA", cuda ? $"{torch.cuda.device_count()} device(s)" : "not available (set LIBTORCH to a CUDA libtorch, or LIBTORCH_USE_PYTORCH=1)");
        AnsiConsole.Write(table);
        return 0;
    }
}
