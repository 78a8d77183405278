using Microsoft.Extensions.Logging;

namespace Kimad.Shaping;

/// <summary>One worker's link: a network namespace joined to the host by a veth pair.</summary>
public sealed record WorkerLink(int Worker, string Namespace, string HostDevice, string NamespaceDevice, string HostAddress, string NamespaceAddress);

/// <summary>
/// Real traffic control: one network namespace per worker, a veth pair to the host, and a tbf qdisc on each
/// end (host end shapes the downlink, namespace end the uplink). Needs root, iproute2 and the sch_tbf module.
/// The server listens on the host; worker i connects to its link's host address from inside its namespace.
/// </summary>
public sealed class NamespaceNetwork : IDisposable
{
    readonly ILogger log;
    readonly List<WorkerLink> links = [];
    readonly Dictionary<int, double> applied = [];

    NamespaceNetwork(ILogger log) => this.log = log;

    public IReadOnlyList<WorkerLink> Links => links;

    /// <summary>Why namespaces cannot be used here, or null when they can (creates and removes a probe).</summary>
    public static string? Unavailable()
    {
        if (!OperatingSystem.IsLinux()) return "not Linux";
        if (Environment.UserName != "root" && Environment.GetEnvironmentVariable("USER") != "root") return "not root (ip netns needs CAP_NET_ADMIN)";
        string ns = $"kimadprobe{Environment.ProcessId % 100000}", dev = $"kpr{Environment.ProcessId % 100000}";
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

    /// <summary>Creates <paramref name="workers"/> namespaces and links with an initial rate.</summary>
    public static NamespaceNetwork Create(int workers, double initialMbps, ILogger log)
    {
        var net = new NamespaceNetwork(log);
        int tag = Environment.ProcessId % 10000;
        int octet = 100 + Environment.ProcessId % 100;
        try
        {
            for (int i = 0; i < workers; i++)
            {
                var link = new WorkerLink(i, $"kimad{tag}w{i}", $"kh{tag}w{i}", $"kn{tag}w{i}", $"10.{octet}.{i}.1", $"10.{octet}.{i}.2");
                Shell.TryRun("ip", "netns", "del", link.Namespace);
                Shell.Run("ip", "netns", "add", link.Namespace);
                net.links.Add(link);
                Shell.Run("ip", "link", "add", link.HostDevice, "type", "veth", "peer", "name", link.NamespaceDevice);
                Shell.Run("ip", "link", "set", link.NamespaceDevice, "netns", link.Namespace);
                Shell.Run("ip", "addr", "add", link.HostAddress + "/24", "dev", link.HostDevice);
                Shell.Run("ip", "link", "set", link.HostDevice, "up");
                Shell.Run("ip", "-n", link.Namespace, "addr", "add", link.NamespaceAddress + "/24", "dev", link.NamespaceDevice);
                Shell.Run("ip", "-n", link.Namespace, "link", "set", link.NamespaceDevice, "up");
                Shell.Run("ip", "-n", link.Namespace, "link", "set", "lo", "up");
                net.SetRate(i, initialMbps, add: true);
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

    /// <summary>Sets both directions of worker <paramref name="worker"/>'s link to <paramref name="mbps"/>.</summary>
    public void SetRate(int worker, double mbps, bool add = false)
    {
        if (!add && applied.TryGetValue(worker, out double old) && Math.Abs(old - mbps) < 1e-9) return;
        var link = links[worker];
        double bytesPerSecond = mbps * 1e6 / 8;
        // Burst: at least one MTU-sized batch and 5 ms at the rate (the kernel timer needs some slack); queue: 100 ms.
        long burst = Math.Max(6000, (long)(bytesPerSecond * 0.005));
        string rate = FormattableString.Invariant($"{mbps * 1000:0}kbit");
        string[] tbf = ["root", "tbf", "rate", rate, "burst", burst.ToString(System.Globalization.CultureInfo.InvariantCulture), "latency", "100ms"];
        string verb = add ? "add" : "change";
        Shell.Run("tc", ["qdisc", verb, "dev", link.HostDevice, .. tbf]);
        Shell.Run("ip", ["netns", "exec", link.Namespace, "tc", "qdisc", verb, "dev", link.NamespaceDevice, .. tbf]);
        applied[worker] = mbps;
    }

    public void Dispose()
    {
        foreach (var link in links)
        {
            Shell.TryRun("ip", "link", "del", link.HostDevice);
            Shell.TryRun("ip", "netns", "del", link.Namespace);
        }
        if (links.Count > 0) log.LogInformation("removed {Count} network namespaces", links.Count);
        links.Clear();
    }
}
