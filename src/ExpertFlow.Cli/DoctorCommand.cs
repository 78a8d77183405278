using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Spectre.Console;
using Toolkit.Runtime;
using Toolkit.Runtime.Cuda;
using TorchSharp;

namespace ExpertFlow.Cli;

/// <summary><c>expertflow doctor</c>: what the machine offers (runtime, libtorch, CPU, CUDA devices, copy bandwidth).</summary>
internal static class DoctorCommand
{
    public static Command Create()
    {
        var sizeMiB = new Option<int>("--bandwidth-mib") { Description = "Size of each timed host-to-device copy, in MiB.", DefaultValueFactory = _ => 1024 };
        var repeats = new Option<int>("--repeats") { Description = "Timed copies per bandwidth measurement (the median is reported).", DefaultValueFactory = _ => 5 };
        var noBandwidth = new Option<bool>("--no-bandwidth") { Description = "Skip the bandwidth measurement." };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON instead of tables." };
        var command = new Command("doctor", "Report .NET, TorchSharp and libtorch versions and location, CPU threads, CUDA devices and memory, and measured pinned host-to-device bandwidth.");
        command.Options.Add(sizeMiB);
        command.Options.Add(repeats);
        command.Options.Add(noBandwidth);
        command.Options.Add(json);
        command.SetAction(parse => Run(parse.GetValue(sizeMiB), parse.GetValue(repeats), !parse.GetValue(noBandwidth), parse.GetValue(json)));
        return command;
    }

    sealed record DeviceReport(int Index, string Name, long TotalBytes, long FreeBytes);
    sealed record BandwidthReport(string Memory, long BytesPerCopy, int Repeats, double MedianGBps, double BestGBps);
    sealed record Report(
        string Dotnet, string TorchSharp, string LibTorchVersion, string LibTorchDirectory, string LibTorchSource,
        int TorchThreads, int LogicalProcessors, bool TorchCuda, int TorchCudaDevices,
        string? CudaDriverVersion, string? CudaUnavailableReason, IReadOnlyList<DeviceReport> Devices, IReadOnlyList<BandwidthReport> Bandwidth);

    static int Run(int sizeMiB, int repeats, bool measure, bool json)
    {
        if (sizeMiB <= 0) throw new ArgumentException($"'--bandwidth-mib {sizeMiB}' must be a positive number of MiB.");
        if (repeats <= 0) throw new ArgumentException($"'--repeats {repeats}' must be at least 1.");
        var lib = LibTorch.EnsureLoaded();
        bool torchCuda = torch.cuda.is_available();
        var devices = new List<DeviceReport>();
        var bandwidth = new List<BandwidthReport>();
        string? driverVersion = null, unavailable = null;
        if (CudaDriver.TryOpen(out var driver, out string reason))
        {
            driverVersion = driver.DriverVersionText;
            for (int i = 0; i < driver.DeviceCount; i++)
            {
                var info = driver.Describe(i);
                devices.Add(new DeviceReport(i, info.Name, info.TotalBytes, info.FreeBytes));
            }
            if (measure)
            {
                if (!json) AnsiConsole.MarkupLine($"[grey]measuring host-to-device bandwidth on cuda:0 ({sizeMiB} MiB x {repeats}, pinned and pageable)...[/]");
                using var context = driver.RetainPrimaryContext(0);
                foreach (bool pinned in new[] { true, false })
                {
                    var m = CopyBandwidth.MeasureHostToDevice(context, (long)sizeMiB << 20, repeats, pinned);
                    bandwidth.Add(new BandwidthReport(pinned ? "pinned" : "pageable", m.BytesPerCopy, repeats, m.MedianGBps, m.BestGBps));
                }
            }
        }
        else unavailable = reason;

        var report = new Report(
            RuntimeInformation.FrameworkDescription + " on " + RuntimeInformation.OSDescription + " " + RuntimeInformation.ProcessArchitecture,
            typeof(torch).Assembly.GetName().Version?.ToString() ?? "?",
            torch.__version__, lib.LibDirectory, lib.Source, torch.get_num_threads(), Environment.ProcessorCount,
            torchCuda, torchCuda ? torch.cuda.device_count() : 0, driverVersion, unavailable, devices, bandwidth);
        if (json) Console.WriteLine(JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
        else Print(report);
        return 0;
    }

    static void Print(Report r)
    {
        var table = new Table().AddColumn("item").AddColumn("value");
        table.AddRow(".NET", Markup.Escape(r.Dotnet));
        table.AddRow("TorchSharp", Markup.Escape(r.TorchSharp));
        table.AddRow("libtorch", Markup.Escape($"{r.LibTorchVersion} from {r.LibTorchDirectory} ({r.LibTorchSource})"));
        table.AddRow("CPU threads", $"{r.TorchThreads} torch threads, {r.LogicalProcessors} logical processors");
        table.AddRow("CUDA driver", Markup.Escape(r.CudaDriverVersion is { } v ? $"{v}, {r.Devices.Count} device(s)" : "not available: " + r.CudaUnavailableReason));
        table.AddRow("TorchSharp CUDA", r.TorchCuda ? $"{r.TorchCudaDevices} device(s)"
            : "not available (set LIBTORCH to a CUDA libtorch, or LIBTORCH_USE_PYTORCH=1)");
        AnsiConsole.Write(table);

        if (r.Devices.Count > 0)
        {
            var devices = new Table().AddColumn("device").AddColumn("name").AddColumn("total memory").AddColumn("free memory");
            foreach (var d in r.Devices)
                devices.AddRow($"cuda:{d.Index}", Markup.Escape(d.Name), GiB(d.TotalBytes), GiB(d.FreeBytes));
            AnsiConsole.Write(devices);
        }
        if (r.Bandwidth.Count > 0)
        {
            var bw = new Table().AddColumn("host-to-device copy (cuda:0)").AddColumn("median").AddColumn("best");
            foreach (var b in r.Bandwidth)
                bw.AddRow($"{b.Memory}, {b.BytesPerCopy >> 20} MiB x {b.Repeats}", GBps(b.MedianGBps), GBps(b.BestGBps));
            AnsiConsole.Write(bw);
        }
    }

    static string GiB(long bytes) => (bytes / (double)(1L << 30)).ToString("F1", CultureInfo.InvariantCulture) + " GiB";
    static string GBps(double value) => value.ToString("F1", CultureInfo.InvariantCulture) + " GB/s";
}
