using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;

namespace Kimad.Shaping;

/// <summary>One worker's link: a network namespace joined to the host by a veth pair.</summary>
public sealed record WorkerLink(int Worker, string Namespace, string HostDevice, string NamespaceDevice, string HostAddress, string NamespaceAddress);

/// <summary>
/// Real traffic control: one network namespace per worker, a veth pair to the host, and a tbf qdisc on each
/// end (host end shapes the downlink, namespace end the uplink). Needs root, iproute2 and the sch_tbf module.
/// The server listens on the host; worker i connects to its link's host address from inside its namespace.
/// <para>Cleanup: <see cref="Dispose"/> removes the namespaces; a watchdog shell started with them (setsid: outside this process group)
/// removes them when this process disappears without cleaning up (kill -9); and <see cref="Create"/> first removes
/// namespaces left by processes that no longer exist.</para>
/// </summary>
public sealed partial class NamespaceNetwork : IDisposable
{
    /// <summary>Segmentation offload on the veth ends is capped at this many bytes, so tbf never meets a packet
    /// larger than its bucket (a 64 KiB offload packet and a few-kB bucket can stall a flow after a downward step).</summary>
    public const int MaxPacketBytes = 1514;

    readonly ILogger log;
    readonly List<WorkerLink> links = [];
    readonly Dictionary<int, double> applied = [];
    Process? watchdog;

    NamespaceNetwork(ILogger log) => this.log = log;

    public IReadOnlyList<WorkerLink> Links => links;

    /// <summary>Why namespaces cannot be used here, or null when they can (creates and removes a probe).</summary>
    public static string? Unavailable()
    {
        if (!OperatingSystem.IsLinux()) return "not Linux";
        if (Environment.UserName != "root" && Environment.GetEnvironmentVariable("USER") != "root") return "not root (ip netns needs CAP_NET_ADMIN)";
        string ns = $"kimadprobe{Environment.ProcessId}", dev = $"kpr{Environment.ProcessId}";
        try
        {
            if (!Shell.TryRun("ip", "netns", "add", ns)) return "'ip netns add' failed (iproute2 missing or no permission)";
            if (!Shell.TryRun("ip", "link", "add", dev, "type", "veth", "peer", "name", dev + "p")) return "cannot create veth pairs";
            if (!Shell.TryRun("tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate", "10mbit", "burst", "32kbit", "latency", "50ms"))
                return "'tc qdisc add ... tbf' failed (kernel without sch_tbf?)";
            return null;
        }
        finally
        {
            Shell.TryRun("ip", "link", "del", dev);
            Shell.TryRun("ip", "netns", "del", ns);
        }
    }

    /// <summary>The tbf bucket for a rate: at least four packets and 10 ms at the rate.</summary>
    public static long BurstBytes(double mbps) => Math.Max(4L * MaxPacketBytes, (long)(mbps * 1e6 / 8 * 0.010));

    /// <summary>tbf's queue limit for a rate: 200 ms at the rate beyond the bucket, at least 16 packets.</summary>
    public static long LimitBytes(double mbps) => BurstBytes(mbps) + Math.Max(16L * MaxPacketBytes, (long)(mbps * 1e6 / 8 * 0.2));

    /// <summary>Creates <paramref name="workers"/> namespaces and links with an initial rate.</summary>
    public static NamespaceNetwork Create(int workers, double initialMbps, ILogger log)
    {
        RemoveOrphans(log);
        var net = new NamespaceNetwork(log);
        int pid = Environment.ProcessId;
        int octet = 100 + pid % 100;
        try
        {
            for (int i = 0; i < workers; i++)
            {
                var link = new WorkerLink(i, $"kimad{pid}w{i}", $"kh{pid}w{i}", $"kn{pid}w{i}", $"10.{octet}.{i}.1", $"10.{octet}.{i}.2");
                Shell.TryRun("ip", "netns", "del", link.Namespace);
                Shell.Run("ip", "netns", "add", link.Namespace);
                net.links.Add(link);
                net.StartWatchdog();
                Shell.Run("ip", "link", "add", link.HostDevice, "type", "veth", "peer", "name", link.NamespaceDevice);
                Shell.Run("ip", "link", "set", link.NamespaceDevice, "netns", link.Namespace);
                Shell.Run("ip", "link", "set", "dev", link.HostDevice, "gso_max_size", MaxPacketBytes.ToString(CultureInfo.InvariantCulture));
                Shell.Run("ip", "-n", link.Namespace, "link", "set", "dev", link.NamespaceDevice, "gso_max_size", MaxPacketBytes.ToString(CultureInfo.InvariantCulture));
                Shell.Run("ip", "addr", "add", link.HostAddress + "/24", "dev", link.HostDevice);
                Shell.Run("ip", "link", "set", link.HostDevice, "up");
                Shell.Run("ip", "-n", link.Namespace, "addr", "add", link.NamespaceAddress + "/24", "dev", link.NamespaceDevice);
                Shell.Run("ip", "-n", link.Namespace, "link", "set", link.NamespaceDevice, "up");
                Shell.Run("ip", "-n", link.Namespace, "link", "set", "lo", "up");
                net.SetRate(i, initialMbps, force: true);
            }
            log.LogInformation("created {Count} network namespaces with tbf-shaped veth links", workers);
            return net;
        }
        catch
        {
            net.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Sets both directions of worker <paramref name="worker"/>'s link to <paramref name="mbps"/>. The qdisc is
    /// replaced, not changed: a fresh bucket sized for the new rate.
    /// </summary>
    public void SetRate(int worker, double mbps, bool force = false)
    {
        if (!(mbps > 0) || !double.IsFinite(mbps)) throw new ArgumentOutOfRangeException(nameof(mbps), mbps, "a link rate must be a positive number of Mbit/s");
        if (!force && applied.TryGetValue(worker, out double old) && Math.Abs(old - mbps) < 1e-9) return;
        var link = links[worker];
        string I(long v) => v.ToString(CultureInfo.InvariantCulture);
        string rate = FormattableString.Invariant($"{Math.Max(1, mbps * 1000):0}kbit");
        string[] tbf = ["root", "tbf", "rate", rate, "burst", I(BurstBytes(mbps)), "limit", I(LimitBytes(mbps))];
        Shell.Run("tc", ["qdisc", "replace", "dev", link.HostDevice, .. tbf]);
        Shell.Run("tc", ["-n", link.Namespace, "qdisc", "replace", "dev", link.NamespaceDevice, .. tbf]);
        applied[worker] = mbps;
    }

    /// <summary>A shell outside this process group (setsid) that removes this network's namespaces once this process is gone.</summary>
    void StartWatchdog()
    {
        StopWatchdog();
        string removals = string.Join("; ", links.Select(l => $"ip link del {l.HostDevice}; ip netns del {l.Namespace}"));
        string script = $"exec </dev/null >/dev/null 2>&1; while kill -0 {Environment.ProcessId}; do sleep 1; done; {removals}";
        var psi = new ProcessStartInfo(File.Exists("/usr/bin/setsid") ? "/usr/bin/setsid" : "sh") { UseShellExecute = false };
        if (psi.FileName != "sh") psi.ArgumentList.Add("sh");
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        try { watchdog = Process.Start(psi); }
        catch (System.ComponentModel.Win32Exception e) { log.LogWarning("no namespace watchdog ({Error}); a killed launcher leaves its namespaces", e.Message); }
    }

    void StopWatchdog()
    {
        if (watchdog is null) return;
        try { if (!watchdog.HasExited) watchdog.Kill(); } catch (InvalidOperationException) { }
        watchdog.Dispose();
        watchdog = null;
    }

    [GeneratedRegex(@"^kimad(\d+)w(\d+)$")]
    private static partial Regex OwnedName();

    /// <summary>Removes namespaces (and their host devices) created by processes that no longer exist.</summary>
    public static int RemoveOrphans(ILogger log)
    {
        string list;
        try { list = Shell.Run("ip", "netns", "list"); }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception) { return 0; }
        int removed = 0;
        foreach (var line in list.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var m = OwnedName().Match(line.Split(' ')[0]);
            if (!m.Success || Directory.Exists($"/proc/{m.Groups[1].Value}")) continue;
            Shell.TryRun("ip", "link", "del", $"kh{m.Groups[1].Value}w{m.Groups[2].Value}");
            if (Shell.TryRun("ip", "netns", "del", m.Value)) removed++;
        }
        if (removed > 0) log.LogInformation("removed {Count} network namespaces left by processes that no longer run", removed);
        return removed;
    }

    public void Dispose()
    {
        StopWatchdog();
        foreach (var link in links)
        {
            Shell.TryRun("ip", "link", "del", link.HostDevice);
            Shell.TryRun("ip", "netns", "del", link.Namespace);
        }
        if (links.Count > 0) log.LogInformation("removed {Count} network namespaces", links.Count);
        links.Clear();
    }
}
