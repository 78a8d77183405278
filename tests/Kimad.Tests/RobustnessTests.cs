using System.Text.Json;
using Kimad.Bandwidth;
using Kimad.Experiments;
using Kimad.Tasks;
using Kimad.Training;
using Kimad.Transport;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kimad.Tests;

/// <summary>Failures end with one line and nothing left behind: TLS and protocol mismatches, signals, kill -9, key files, tokens.</summary>
[Collection("processes")]
public class RobustnessTests
{
    static readonly TimeSpan Long = TimeSpan.FromSeconds(90);

    static void AssertOneErrorLine(string stderr, string expected)
    {
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Length == 1, "expected one line on stderr, got:\n" + stderr);
        Assert.StartsWith("error:", lines[0]);
        Assert.Contains(expected, lines[0]);
        Assert.DoesNotMatch(@"\n\s+at ", stderr);
    }

    [Fact]
    public async Task TlsAndProtocolMismatchesEndTheWorkerWithOneLine()
    {
        var ct = TestContext.Current.CancellationToken;
        using var cluster = new Cluster("tls");
        string pfx = Path.Combine(cluster.Directory, "s.pfx"), cer = Path.Combine(cluster.Directory, "s.cer"), other = Path.Combine(cluster.Directory, "o.cer");
        Certificates.CreateSelfSigned(["127.0.0.1"], pfx, cer, null).Dispose();
        Certificates.CreateSelfSigned(["127.0.0.1"], Path.Combine(cluster.Directory, "o.pfx"), other, null).Dispose();
        var server = cluster.Server("--workers", "1", "--rounds", "1000", "--cert", pfx);
        await cluster.WaitForLog("server", "listening", Long);
        string tlsAddress = $"https://127.0.0.1:{cluster.Port}";
        string[] worker = ["worker", "--id", "0", "--workers", "1", "--reconnect-timeout-s", "20"];

        // Plain HTTP/2 to the TLS port.
        var (code, _, stderr) = await Cluster.RunCli(Long, [.. worker, "--server", cluster.Address]);
        Assert.Equal(2, code);
        AssertOneErrorLine(stderr, "connect with https://");
        // TLS pinning another certificate.
        (code, _, stderr) = await Cluster.RunCli(Long, [.. worker, "--server", tlsAddress, "--server-cert", other]);
        Assert.Equal(2, code);
        AssertOneErrorLine(stderr, "TLS handshake");
        Assert.False(server.HasExited);
        server.Kill();

        // TLS to a server without TLS.
        using var plain = new Cluster("plain");
        plain.Server("--workers", "1", "--rounds", "1000");
        await plain.WaitForLog("server", "listening", Long);
        (code, _, stderr) = await Cluster.RunCli(Long, [.. worker, "--server", $"https://127.0.0.1:{plain.Port}", "--server-cert", cer]);
        Assert.Equal(2, code);
        AssertOneErrorLine(stderr, "http://");
    }

    [Fact]
    public async Task SigtermStopsServerAndWorkerCleanly()
    {
        var ct = TestContext.Current.CancellationToken;
        using var cluster = new Cluster("sigterm");
        var server = cluster.Server("--workers", "1", "--rounds", "100000", "--task", "quadratic", "--eval-every", "0", "--checkpoint", Path.Combine(cluster.Directory, "ck.bin"));
        var worker = cluster.Worker(0, "--workers", "1", "--task", "quadratic");
        await cluster.WaitForLog("server", "round 20 done", Long);
        worker.Signal(15);
        await Cluster.Exit(worker, TimeSpan.FromSeconds(10));
        server.Signal(15);
        await Cluster.Exit(server, TimeSpan.FromSeconds(10));
        Assert.Equal(143, worker.ExitCode);
        Assert.Equal(143, server.ExitCode);
        foreach (var name in new[] { "server", "worker0" })
        {
            string log = cluster.ReadLog(name);
            Assert.DoesNotContain("Exception", log);
            Assert.DoesNotMatch(@"\n\s+at ", log);
            Assert.DoesNotContain("error:", log);
        }
        Assert.Contains("stopped by a signal", cluster.ReadLog("worker0"));
        Assert.Contains("stopping on request", cluster.ReadLog("server"));
        // The metrics were written on the way out and the checkpoint resumes after them.
        long rounds = cluster.Metrics().Count;
        Assert.True(rounds >= 20);
        Assert.Equal(Enumerable.Range(0, (int)rounds).Select(i => (long)i), cluster.Metrics().Select(m => m.Round));
    }

    [Fact]
    public async Task SigtermStopsALaunchCleanly()
    {
        using var cluster = new Cluster("launch-term");
        string trace = Path.Combine(AppContext.BaseDirectory, "Traces", "constant-100.csv");
        var launcher = cluster.Start("launch", "launch", "--workers", "2", "--task", "quadratic", "--rounds", "100000", "--eval-every", "0", "--trace", trace,
            "--shaping", "throttle", "--out", Path.Combine(cluster.Directory, "run"));
        await cluster.WaitForLog("launch", "running a server", Long);
        var end = DateTime.UtcNow + Long;
        while (DateTime.UtcNow < end && !File.Exists(Path.Combine(cluster.Directory, "run", "metrics.json"))) await Task.Delay(100, TestContext.Current.CancellationToken);
        launcher.Signal(15);
        await Cluster.Exit(launcher, TimeSpan.FromSeconds(15));
        Assert.Equal(143, launcher.ExitCode);
        string log = cluster.ReadLog("launch");
        Assert.Contains("stopped by a signal", log);
        Assert.DoesNotContain("Exception", log);
        Assert.DoesNotMatch(@"\n\s+at ", log);
        Assert.NotEmpty(Kimad.Training.MetricsFiles.Read(Path.Combine(cluster.Directory, "run")));
    }

    [Fact]
    public async Task KillingTheLauncherLeavesNoNamespaces()
    {
        ShapingTests.SkipWithoutNamespaces();
        using var cluster = new Cluster("kill9");
        string trace = Path.Combine(AppContext.BaseDirectory, "Traces", "constant-5.csv");
        var launcher = cluster.Start("launch", "launch", "--workers", "2", "--task", "quadratic", "--rounds", "100000", "--trace", trace, "--shaping", "tc",
            "--out", Path.Combine(cluster.Directory, "run"));
        await cluster.WaitForLog("launch", "running a server", Long);
        string prefix = $"kimad{launcher.Id}w";
        Assert.Equal(2, Namespaces().Count(n => n.StartsWith(prefix, StringComparison.Ordinal)));
        launcher.Signal(9);
        await Cluster.Exit(launcher, TimeSpan.FromSeconds(10));
        var end = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < end && Namespaces().Any(n => n.StartsWith(prefix, StringComparison.Ordinal))) await Task.Delay(200, TestContext.Current.CancellationToken);
        Assert.DoesNotContain(Namespaces(), n => n.StartsWith(prefix, StringComparison.Ordinal));
        Assert.False(Directory.Exists($"/sys/class/net/kh{launcher.Id}w0"));
    }

    static List<string> Namespaces()
    {
        var psi = new System.Diagnostics.ProcessStartInfo("ip", "netns list") { RedirectStandardOutput = true };
        using var p = System.Diagnostics.Process.Start(psi)!;
        string text = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0]).ToList();
    }

    [Fact]
    public async Task CertWritesThePrivateKeyReadableByItsOwnerOnly()
    {
        if (OperatingSystem.IsWindows()) { Assert.Skip("POSIX file modes"); return; }
        string dir = Path.Combine(Path.GetTempPath(), $"kimad-cert-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            var (code, _, stderr) = await Cluster.RunCli(Long, "cert", "--pfx", Path.Combine(dir, "s.pfx"), "--cer", Path.Combine(dir, "s.cer"), "--password", "pw");
            Assert.True(code == 0, stderr);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(dir, "s.pfx")));
            Assert.NotEqual(UnixFileMode.None, File.GetUnixFileMode(Path.Combine(dir, "s.cer")) & UnixFileMode.OtherRead);   // the public part stays readable
            using var loaded = Certificates.LoadPfx(Path.Combine(dir, "s.pfx"), "pw");
            Assert.True(loaded.HasPrivateKey);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public async Task TokenFromAFileIsRequiredAndAccepted()
    {
        using var cluster = new Cluster("tokenfile");
        string file = Path.Combine(cluster.Directory, "token");
        File.WriteAllText(file, "s3cret\n");
        Assert.Equal("s3cret", SharedToken.Resolve("ignored", file));
        Assert.Throws<FileNotFoundException>(() => SharedToken.Resolve(null, file + ".missing"));
        File.WriteAllText(file + ".empty", "\n");
        Assert.Throws<InvalidDataException>(() => SharedToken.Resolve(null, file + ".empty"));

        var server = cluster.Server("--workers", "1", "--rounds", "5", "--task", "quadratic", "--eval-every", "0", "--token-file", file);
        await cluster.WaitForLog("server", "listening", Long);
        string[] worker = ["worker", "--server", cluster.Address, "--id", "0", "--workers", "1", "--task", "quadratic"];
        var (code, _, stderr) = await Cluster.RunCli(Long, [.. worker, "--token", "wrong"]);
        Assert.Equal(2, code);
        AssertOneErrorLine(stderr, "refused the token");
        (code, _, stderr) = await Cluster.RunCli(Long, [.. worker, "--token-file", file]);
        Assert.True(code == 0, stderr);
        await Cluster.Exit(server, Long);
        Assert.Equal(5, cluster.Metrics().Count);
    }

    /// <summary>A model big enough that a pull takes a while on a 5 Mbit/s link; the gradient pulls x towards b.</summary>
    sealed class WideQuadratic : ITrainingTask
    {
        public string Name => "wide";
        public IReadOnlyList<string> LayerNames => ["x"];
        public IReadOnlyList<int> LayerLengths => [40_000];
        public float DefaultLearningRate => 0.1f;
        public float[][] InitialParameters() => [new float[40_000]];
        public double Gradient(float[][] p, float[][] g, int worker, int workers, long round)
        {
            for (int i = 0; i < p[0].Length; i++) g[0][i] = p[0][i] - 1;
            return 0;
        }
        public Evaluation Evaluate(float[][] p) => new(0, double.NaN);
        public void Dispose() { }
    }

    [Fact]
    public async Task ServerDownlinkRateIsTheLinkRate()
    {
        ShapingTests.SkipWithoutNamespaces();
        var ct = TestContext.Current.CancellationToken;
        using var network = Kimad.Shaping.NamespaceNetwork.Create(1, 5, NullLogger.Instance);
        using var sockets = new Kimad.Shaping.NamespaceSockets(network.Links[0].Namespace);
        string dir = Path.Combine(Path.GetTempPath(), $"kimad-down-{Guid.NewGuid():N}");
        int port = Cluster.FreePortForTests();
        try
        {
            using var task = new WideQuadratic();
            var server = ParameterServerHost.RunAsync(task, new ServerOptions { Method = "uncompressed", Rounds = 8, ExpectedWorkers = 1, EvalEvery = 0, MetricsDirectory = dir },
                new ServerNetwork("0.0.0.0", port), NullLoggerFactory.Instance, ct);
            var worker = new WorkerClient(task, new WorkerOptions
            {
                ServerAddress = $"http://{network.Links[0].HostAddress}:{port}", WorkerId = 0, Connect = sockets.ConnectAsync,
            }, NullLogger.Instance);
            Assert.Equal(8, await worker.RunAsync(ct));
            await server;
            using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "metrics.json")));
            var down = doc.RootElement.GetProperty("summary").GetProperty("server_links").EnumerateArray().Single(l => l.GetProperty("direction").GetString() == "Downlink");
            double mbps = down.GetProperty("mbps").GetDouble();
            // 160 kB per pull at 5 Mbit/s (the bucket passes about 6 kB of it at once).
            Assert.InRange(mbps, 3.5, 6.5);
            Assert.InRange(worker.Monitor.Estimate("server", LinkDirection.Downlink)!.Value / 1e6, 3.5, 6.5);
        }
        finally { try { Directory.Delete(dir, true); } catch (IOException) { } }
    }
}
